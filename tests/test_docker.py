"""docker/Dockerfile pins the versions of requirements/."""
import os.path as osp
import re

from helpers import ROOT


def pins(path):
    with open(osp.join(ROOT, path)) as f:
        return dict(re.findall(r'([A-Za-z][\w-]*)==([\w.]+)', f.read()))


def test_dockerfile_pins_agree_with_requirements():
    required = {**pins('requirements/torch.txt'),
                **pins('requirements/mminstall.txt')}
    docker = pins('docker/Dockerfile')
    assert required, 'no pins found in requirements/'
    for package, version in required.items():
        assert docker.get(package) == version, package
