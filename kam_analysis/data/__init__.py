"""Client data: the contract, readers, validation, preparation and the demo client."""
from .contract import CONTRACT
from .demo import PLANTED, generate_demo
from .validate import ValidationReport, validate_data

__all__ = ["CONTRACT", "PLANTED", "generate_demo", "ValidationReport", "validate_data"]
