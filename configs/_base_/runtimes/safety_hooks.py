# mmhvit's run-time safety (mmhvit/engine/hooks/), named here so that every
# entry point gets it: tools/train.py, tools/test.py, mim, upstream tools and a
# plain Runner.from_cfg. WorkDirLockHook refuses a second training in a work
# dir in use, PreflightCheckHook checks the run (and the checkpoint it resumes
# from or loads) before its first iteration, NonFiniteLossHook stops at the
# first NaN/Inf input or loss with a checkpoint, IterationSeedHook seeds every
# iteration so that a resumed run draws the same numbers (dropout, drop path,
# samplers) as an uninterrupted one, PreemptionHook saves a checkpoint and
# stops (status 143) on SIGTERM. A config that sets its own custom_hooks keeps
# these by listing them.
custom_hooks = [
    dict(type='mmhvit.WorkDirLockHook'),
    dict(type='mmhvit.PreflightCheckHook'),
    dict(type='mmhvit.NonFiniteLossHook'),
    dict(type='mmhvit.IterationSeedHook'),
    dict(type='mmhvit.PreemptionHook'),
]
# The runner, for the same entry points (but a plain Runner.from_cfg, which
# ignores runner_type): mmhvit.ResumableRunner resumes a run that set no seed
# with the seed it drew, and trains epoch-based schedules with
# mmhvit.EpochBasedTrainLoop, which resumes mid-epoch at the iteration it
# stopped (mmhvit/engine/runner.py).
runner_type = 'mmhvit.ResumableRunner'
