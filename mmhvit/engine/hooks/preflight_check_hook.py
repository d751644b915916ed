"""Checks of a run before its first iteration, with named errors."""
from mmengine.hooks import Hook

from mmhvit.checks.checkpoint import (check_checkpoint_file, check_loaded_from,
                                      check_pretrained, check_resumable,
                                      check_tested, resume_target,
                                      snapshot_pretrained)
from mmhvit.checks.datasets import (check_dataset, check_settings_applied,
                                    check_topk)
from mmhvit.checks.inventory import MAX_LEFT_OUT
from mmhvit.checks.model import (check_checkpointing_under_ddp,
                                 check_data_preprocessor, check_num_classes,
                                 install_forward_checks, unwrap)
from mmhvit.checks.schedule import check_lr_schedule, check_schedule
from mmhvit.registry import HOOKS


@HOOKS.register_module()
class PreflightCheckHook(Hook):
    """Checks a run before its first iteration (training) or sample
    (testing) and names what is wrong.

    Before loading a checkpoint: the checkpoint to resume from (the newest
    of a directory given as ``--resume DIR``) holds training state and
    tensors of exactly the model's names and shapes, and one to load or
    test is a file. Before training: the schedule trains at least one
    iteration or epoch and validates every ``val_interval >= 1``, a resumed
    run has iterations (or an interrupted validation) left, no iteration
    would train at a learning rate of 0 (resumed schedulers included), the
    train and val datasets have
    samples and none of the inputs their samples need is missing (their
    inventory, what they found, use and leave out with reasons, is logged;
    a share above ``max_left_out`` left out warns), the training set has
    instances to train on, their COCO annotations and class labels are
    valid, their pipelines check labels against the dataset's classes and
    a sample of their label maps fits the classes and
    ``reduce_zero_label``, a folder dataset's classes follow its sorted
    folders, the config's top-level ``classes`` and the evaluators'
    ``topk`` fit the datasets, the heads agree with the
    train dataset on ``num_classes``, the data preprocessor's mean and std
    are finite and std has no 0, upstream ``with_cp`` blocks are not
    combined with ``find_unused_parameters`` under DDP, every
    ``Pretrained`` module received at least ``min_loaded_ratio`` of its
    parameters (unless the run resumes or loads a checkpoint), and
    ``load_from`` filled at least ``min_checkpoint_ratio`` of the model.
    Before testing: the same for the test dataset, and the tested
    checkpoint must cover ``min_checkpoint_ratio`` of the model with no
    tensor of another shape. Both install the forward checks of channels
    and input sizes (:func:`install_forward_checks`).

    The checks are those of :mod:`mmhvit.checks`. The checks of each
    sample's files and labels are part of the data pipelines
    (:mod:`mmhvit.datasets.transforms`), so they run in the data workers
    too. mmhvit's base runtimes (``configs/_base_/runtimes/``) list
    this hook in ``custom_hooks``.

    Args:
        min_checkpoint_ratio (float): Share of the model's parameters the
            tested checkpoint, or the one ``load_from`` names for training,
            must fill.
        max_left_out (float): Share of a dataset's inputs of a kind (image
            files, label maps, images or annotations of a COCO file) that
            may be left out without a warning.
    """
    priority = 'VERY_HIGH'

    def __init__(self, min_checkpoint_ratio: float = 0.9,
                 max_left_out: float = MAX_LEFT_OUT):
        self.min_checkpoint_ratio = min_checkpoint_ratio
        self.max_left_out = max_left_out
        self._handles = []
        self._before_init = {}
        self._resumed_meta = {}

    def before_run(self, runner) -> None:
        """Fingerprint ``Pretrained`` modules before the runner initialises
        the weights (training calls ``init_weights()`` after this), and
        check the checkpoint the runner loads next."""
        self._before_init = snapshot_pretrained(unwrap(runner.model))
        if runner._resume:
            runner._load_from = resume_target(runner._load_from,
                                              runner.work_dir)
            if runner._load_from:
                check_resumable(runner.model, runner._load_from)
        elif runner._load_from:
            check_checkpoint_file(runner._load_from, 'load_from')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_meta = dict(checkpoint.get('meta') or {}) \
            if runner._resume else {}

    def before_train(self, runner) -> None:
        check_schedule(
            runner.train_loop, runner.val_loop is not None,
            runner._load_from if runner._resume else None,
            bool(self._resumed_meta.get('validation_pending')))
        check_lr_schedule(runner.param_schedulers, runner.train_loop,
                          runner._load_from if runner._resume else None)
        check_dataset(runner.train_dataloader.dataset, 'train',
                      self.max_left_out)
        check_settings_applied(runner.cfg, runner.train_dataloader.dataset,
                               'train')
        if runner.val_loop is not None:
            check_dataset(runner.val_dataloader.dataset, 'val',
                          self.max_left_out)
            check_topk(runner.val_loop.evaluator.metrics,
                       runner.val_dataloader.dataset, 'val')
        check_num_classes(runner.model, runner.train_dataloader.dataset)
        check_data_preprocessor(runner.model)
        check_checkpointing_under_ddp(runner.model)
        if runner._load_from and not runner._resume:
            check_loaded_from(runner.model, runner._load_from,
                              self.min_checkpoint_ratio)
        elif not runner._has_loaded:
            check_pretrained(unwrap(runner.model), self._before_init)
        self._install(runner)

    def before_test(self, runner) -> None:
        dataset = runner.test_dataloader.dataset
        check_dataset(dataset, 'test', self.max_left_out)
        check_topk(runner.test_loop.evaluator.metrics, dataset, 'test')
        check_settings_applied(runner.cfg, dataset, 'test')
        check_num_classes(runner.model, dataset, 'test')
        check_data_preprocessor(runner.model)
        if runner._load_from:
            check_tested(runner.model, runner._load_from,
                         self.min_checkpoint_ratio)
        self._install(runner)

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _install(self, runner) -> None:
        if not self._handles:
            self._handles = install_forward_checks(runner.model)
