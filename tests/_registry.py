"""Registry of every public estimator for the contract suite (``tests/test_common.py``).

Each entry: ``name -> (factory, kind)`` where ``factory()`` returns a *tiny*, fast
instance (few epochs, small widths) and ``kind`` is one of ``"transformer"``,
``"regressor"``, ``"classifier"``.  ``test_common.py`` checks that every public
estimator of the package has an entry, so a new estimator must be added here.
"""

ESTIMATORS = {}


def register(name, kind):
    """Decorator: register ``factory`` under the class name ``name``."""

    def deco(factory):
        ESTIMATORS[name] = (factory, kind)
        return factory

    return deco
