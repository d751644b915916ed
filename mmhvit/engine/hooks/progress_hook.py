"""Progress on the screen from the first iterations on."""
import datetime
import threading
import time

from mmengine.hooks import Hook, LoggerHook

from mmhvit.registry import HOOKS


@HOOKS.register_module()
class ProgressHook(Hook):
    """A line before the first training iteration, and progress lines
    (iteration, share done, seconds per iteration and ETA from the mean
    so far) after the iterations ``first`` counts from the start or resume
    and whenever ``every_s`` seconds passed without one. An iteration
    still running after ``slow_s`` seconds is said to be, and again every
    ``every_s`` seconds (its data loading counted; validation not): a
    watcher thread runs from the end of the previous iteration (or the
    start) to the end of this one and prints nothing for faster ones. It
    ends with the iteration, with the training, and, a daemon thread, with
    the process on an error or SIGTERM.

    mmengine's ``LoggerHook`` prints only every ``interval`` iterations
    (50 in the configs): a short run showed no training line, and a slow
    start nothing for minutes. Iterations that ``LoggerHook`` logs anyway
    are left to it. ``tools/train.py`` adds this hook; the lines also go to
    the ``.log`` file, the JSON logs are untouched.

    Args:
        first (tuple[int]): Iterations after which to print.
        every_s (float): Longest time without a line, in seconds.
        slow_s (float): Seconds after which an iteration still running is
            said to be.
    """
    priority = 'VERY_LOW'

    def __init__(self, first=(1, 2, 5, 10, 20), every_s=60.0, slow_s=30.0):
        self.first = set(first)
        self.every_s = every_s
        self.slow_s = slow_s
        self._watcher = None
        self._training = False

    def before_train(self, runner) -> None:
        self._stop_watcher()  # of a run that ended with an error
        self._start_iter = runner.iter
        self._start = self._last = time.monotonic()
        loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
        self._logged = loggers[0].interval if loggers else 0
        runner.logger.info(
            f'Training iterations {runner.iter + 1}..{runner.max_iters}; the '
            'first may take a while (workers start, data is loaded); '
            'progress after iterations '
            f'{", ".join(map(str, sorted(self.first)))} and every '
            f'{self.every_s:g} s')
        self._training = True
        self._watch(runner, runner.iter + 1)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._stop_watcher()
        done = runner.iter + 1  # mmengine counts it after this hook
        if done < runner.max_iters:
            self._watch(runner, done + 1)
        now = time.monotonic()
        run = done - self._start_iter
        if run not in self.first and now - self._last < self.every_s:
            return
        self._last = now
        if self._logged and done % self._logged == 0:
            return  # LoggerHook prints this one
        per_iter = (now - self._start) / run
        eta = datetime.timedelta(
            seconds=round(per_iter * (runner.max_iters - done)))
        runner.logger.info(
            f'Progress: iter {done}/{runner.max_iters} '
            f'({100 * done / runner.max_iters:.1f}%), {per_iter:.2f} s/iter, '
            f'eta {eta}')

    def before_val(self, runner) -> None:
        self._stop_watcher()

    def after_val(self, runner) -> None:
        if self._training and runner.iter < runner.max_iters:
            self._watch(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        self._stop_watcher()
        self._training = False

    def _watch(self, runner, iteration):
        """Say every while that ``iteration`` (its data loading and step)
        is still running, from ``slow_s`` seconds on."""
        stop = threading.Event()
        start = time.monotonic()
        hint = (' (the first iterations start the data workers and build '
                'caches)' if iteration - self._start_iter <= 2 else '')

        def watch():
            wait = self.slow_s
            while not stop.wait(wait):
                runner.logger.info(
                    f'Iteration {iteration}/{runner.max_iters} still '
                    f'running after {time.monotonic() - start:.0f} s{hint}')
                wait = self.every_s

        thread = threading.Thread(target=watch, daemon=True,
                                  name='ProgressHook')
        thread.start()
        self._watcher = thread, stop

    def _stop_watcher(self):
        if self._watcher is not None:
            thread, stop = self._watcher
            stop.set()
            thread.join()
            self._watcher = None
