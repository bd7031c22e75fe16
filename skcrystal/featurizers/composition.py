"""Composition features through matminer, wrapped as a proper scikit-learn transformer.

matminer's featurizers are not fully scikit-learn conformant (mixin order,
list output, all-core multiprocessing by default); :class:`CompositionFeatures`
calls them one composition at a time with ``n_jobs=1`` and parallelises and
caches at skcrystal's level.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._citations import WARD2016_MAGPIE, WARD2018_MATMINER
from ..base import StructureFeaturizer
from ..utils._docstring import FEATURIZER_PARAMS, Substitution
from ..utils._param_validation import SequenceOf, StrOptions

__all__ = ["CompositionFeatures"]

MAGPIE_CITATION = WARD2016_MAGPIE
MATMINER_CITATION = WARD2018_MATMINER


def _make(name, impute_nan=False):
    from matminer.featurizers import composition as mc

    if name == "magpie":
        f = mc.ElementProperty.from_preset("magpie", impute_nan=impute_nan)
    elif name == "stoichiometry":
        f = mc.Stoichiometry()
    elif name == "valence_orbital":
        f = mc.ValenceOrbital(impute_nan=impute_nan)
    elif name == "element_fraction":
        f = mc.ElementFraction()
    else:
        raise ValueError(
            f"unknown composition preset {name!r}; choose from 'magpie', 'stoichiometry', "
            "'valence_orbital', 'element_fraction'"
        )
    f.set_n_jobs(1)
    return f


@Substitution(**FEATURIZER_PARAMS)
class CompositionFeatures(StructureFeaturizer):
    """Composition descriptors from matminer (Magpie element-property statistics by default).

    Works on ordered and disordered structures alike (only the composition
    is used).  Element properties missing from the Magpie tables (e.g. some
    noble-gas or actinide entries) come out as NaN — with a warning naming
    the rows — which tree models such as :class:`~skcrystal.models.GBTRegressor`
    handle natively; pass ``impute_nan=True`` (matminer's imputation with
    the mean over elements) for models that do not.

    Parameters
    ----------
    presets : tuple of str, default=("magpie", "stoichiometry", "valence_orbital")
        matminer composition featurizers to concatenate: ``"magpie"``
        (ElementProperty, 132 features), ``"stoichiometry"``,
        ``"valence_orbital"``, ``"element_fraction"``.
    impute_nan : bool, default=False
        Let matminer impute missing element properties instead of giving NaN.
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        matminer's labels, prefixed ``comp_``.
    """

    _disorder = "allow"
    _citations = (MAGPIE_CITATION, MATMINER_CITATION)
    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "presets": [SequenceOf(StrOptions({"magpie", "stoichiometry", "valence_orbital", "element_fraction"}),
                               unique=True)],
        "impute_nan": ["boolean"],
    }

    def __init__(self, presets=("magpie", "stoichiometry", "valence_orbital"), impute_nan=False, n_jobs=None,
                 verbose=0, on_error="raise", memory=None):
        self.presets = presets
        self.impute_nan = impute_nan
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurizers(self):
        fs = getattr(self, "_matminer_cache", None)
        key = (tuple(self.presets), bool(self.impute_nan))
        if fs is None or fs[0] != key:
            fs = (key, [_make(p, bool(self.impute_nan)) for p in self.presets])
            # a private, re-creatable cache of matminer objects (not fitted state, not a parameter)
            object.__setattr__(self, "_matminer_cache", fs)
        return fs[1]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_matminer_cache", None)
        return state

    def _transform_structures(self, structures, labels):
        out = super()._transform_structures(structures, labels)
        missing = np.isnan(out).any(axis=1)
        if missing.any():
            rows = [labels[i] for i in np.flatnonzero(missing)[:5]]
            cols = [n for n, m in zip(self.feature_names_out_, np.isnan(out).any(axis=0)) if m][:3]
            warnings.warn(
                f"CompositionFeatures: {int(missing.sum())} of {len(out)} rows have element properties missing "
                f"from matminer's tables (rows {rows}{' …' if missing.sum() > 5 else ''}, e.g. {cols}); they are "
                "NaN (tree models handle NaN; pass impute_nan=True for other models)",
                UserWarning,
                stacklevel=3,
            )
        return out

    def _worker_input(self, structure):
        # workers need only the composition (~70 bytes pickled instead of ~2 kB for a structure)
        return structure.composition

    def _featurize_one(self, structure):
        from pymatgen.core import Composition

        comp = structure if isinstance(structure, Composition) else structure.composition
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for f in self._featurizers():
                out.extend(f.featurize(comp))
        return np.asarray(out, dtype=float)

    def _feature_names(self):
        return ["comp_" + n.replace(" ", "_") for f in self._featurizers() for n in f.feature_labels()]
