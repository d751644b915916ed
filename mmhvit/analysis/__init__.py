"""Measuring models: MACs (``flops``), the model-zoo tables
(``model_zoo``), latency and memory (``profiling``, ``benchmark``), the
attention kernels each call runs (``attention``), the GPU report
(``gpu_report``), the paper tables run and compared by
``tools/reproduce.py`` (``reproduce``) and the cost of the data checks
(``data_checks``)."""
from .flops import count_macs
from .model_zoo import build_from_config, count_params, measure_config
from .profiling import Measurement, measure

__all__ = [
    'count_macs', 'build_from_config', 'count_params', 'measure_config',
    'Measurement', 'measure'
]
