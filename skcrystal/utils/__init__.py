"""Validation, seeding and discovery helpers."""

from .validation import StructureValidationError, check_structures, check_target, resolve_disorder

__all__ = ["StructureValidationError", "check_structures", "check_target", "resolve_disorder"]
