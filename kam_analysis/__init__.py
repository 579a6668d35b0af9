"""kam_analysis: the analysis package behind the KAM engagement workbook.

The public surface is small: open a run folder, load parameters, run an engagement,
validate data, generate the demo client. Analyses live in concept modules
(``kpis``, ``segmentation``, ``clv``, ``strategy``, ``risk``, ``review``, ``charts``)
that notebooks import explicitly.
"""
from .config import Params, load_params
from .data.demo import PLANTED, generate_demo
from .data.validate import validate_data
from .exceptions import DataValidationError, KAMError, ParameterError, RunError
from .data.runfolder import Run
from .runner import open_run, run_engagement

__version__ = "0.1.0"

__all__ = [
    "DataValidationError",
    "KAMError",
    "PLANTED",
    "ParameterError",
    "Params",
    "Run",
    "RunError",
    "generate_demo",
    "load_params",
    "open_run",
    "run_engagement",
    "validate_data",
]
