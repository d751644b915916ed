"""mmhvit: hierarchical vision transformers for OpenMMLab (see README.md)."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    namespace = {}
    with open(osp.join(HERE, 'mmhvit', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(*names):
    """Requirement lines of ``requirements/<name>.txt``, comments dropped."""
    lines = []
    for name in names:
        with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
            lines += [
                line.split('#')[0].strip() for line in f
                if line.split('#')[0].strip()
            ]
    return lines


def add_mim_extension():
    """Expose configs/, tools/ and model-index.yml as mmhvit/.mim, as the
    OpenMMLab packages do, for ``mim train mmhvit`` and ``mim search``.

    Editable installs link them, wheels and sdists copy them.
    """
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_dir = osp.join(HERE, 'mmhvit', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmhvit',
        version=read_version(),
        description='Hierarchical vision transformers (HAT-Net, SETR/HLG, '
        'ClusTR, HAFA) for mmsegmentation, mmdetection and mmpretrain',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.8',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={
            'mmhvit':
            ['.mim/configs/**/*', '.mim/tools/**/*', '.mim/model-index.yml']
        },
        install_requires=read_requirements('runtime'),
        extras_require=dict(
            mim=read_requirements('mminstall'),
            tests=read_requirements('tests')),
        zip_safe=False)
