"""Checks of a run before its first iteration, with named errors."""
from mmengine.hooks import Hook

from mmhvit.datasets.validation import check_dataset
from mmhvit.registry import HOOKS
from ...models.utils.checkpoint import (check_pretrained, share_of_checkpoint,
                                        snapshot_pretrained)
from ..checks import (check_checkpointing_under_ddp, check_num_classes,
                      install_forward_checks, unwrap)


@HOOKS.register_module()
class PreflightCheckHook(Hook):
    """Checks a run before its first iteration (training) or sample
    (testing) and names what is wrong.

    Before training: the train and val datasets have samples and valid
    COCO annotations and their pipelines check labels against the dataset's
    classes, the heads agree with the train dataset on ``num_classes``,
    upstream ``with_cp`` blocks are not combined with
    ``find_unused_parameters`` under DDP, and every ``Pretrained`` module
    received at least ``min_loaded_ratio`` of its parameters (unless the
    run resumes or loads a checkpoint). Before testing: the same for the
    test dataset, and the tested checkpoint must cover
    ``min_checkpoint_ratio`` of the model. Both install the forward checks
    of channels and input sizes (:func:`install_forward_checks`).

    The checks of each sample's files and labels are part of the data
    pipelines (:mod:`mmhvit.datasets.transforms`), so they run in the data
    workers too. mmhvit's base runtimes (``configs/_base_/runtimes/``) list
    this hook in ``custom_hooks``.

    Args:
        min_checkpoint_ratio (float): Share of the model's parameters the
            tested checkpoint must hold.
    """
    priority = 'VERY_HIGH'

    def __init__(self, min_checkpoint_ratio: float = 0.9):
        self.min_checkpoint_ratio = min_checkpoint_ratio
        self._handles = []
        self._before_init = {}

    def before_run(self, runner) -> None:
        """Fingerprint ``Pretrained`` modules before the runner initialises
        the weights (training calls ``init_weights()`` after this)."""
        self._before_init = snapshot_pretrained(unwrap(runner.model))

    def before_train(self, runner) -> None:
        check_dataset(runner.train_dataloader.dataset, 'train')
        if runner.val_loop is not None:
            check_dataset(runner.val_dataloader.dataset, 'val')
        check_num_classes(runner.model, runner.train_dataloader.dataset)
        check_checkpointing_under_ddp(runner.model)
        if not (runner.cfg.get('resume') or runner.cfg.get('load_from')):
            check_pretrained(unwrap(runner.model), self._before_init)
        self._install(runner)

    def before_test(self, runner) -> None:
        dataset = runner.test_dataloader.dataset
        check_dataset(dataset, 'test')
        check_num_classes(runner.model, dataset, 'test')
        checkpoint = runner.cfg.get('load_from')
        if checkpoint:
            self._check_checkpoint(runner.model, checkpoint)
        self._install(runner)

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _check_checkpoint(self, model, checkpoint: str) -> None:
        share = share_of_checkpoint(unwrap(model), checkpoint)
        if share < self.min_checkpoint_ratio:
            raise RuntimeError(
                f'Only {share:.1%} of the parameters of the model hold values '
                f'of {checkpoint}: it is a checkpoint of another model or '
                'config, and the test would score an untrained network.')

    def _install(self, runner) -> None:
        if not self._handles:
            self._handles = install_forward_checks(runner.model)
