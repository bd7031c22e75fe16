"""Shared parameter documentation, written once and substituted into docstrings.

As in imbalanced-learn's ``utils/_docstring.py``: a docstring holds a
placeholder such as ``%(n_jobs)s`` on the line where the parameter's entry
starts (indented as the other entries), and the :class:`Substitution`
decorator fills it with the text below::

    @Substitution(**FEATURIZER_PARAMS)
    class MyFeaturizer(StructureFeaturizer):
        '''...

        Parameters
        ----------
        cutoff : float, default=5.0
            Neighbour radius (Å).
        %(n_jobs)s
        %(verbose)s
        %(on_error)s
        %(memory)s
        '''

Each text's first line has no indentation; its description lines are
indented by 8 spaces (the numpydoc layout of a class or function docstring).
"""

from __future__ import annotations

__all__ = ["FEATURIZER_PARAMS", "NETWORK_PARAMS", "Substitution"]


class Substitution:
    """Decorator filling ``%(name)s`` placeholders of a docstring.

    Parameters
    ----------
    **params : str
        Text per placeholder name.

    Examples
    --------
    >>> @Substitution(x="x : int\\n        A number.")
    ... def f(x):
    ...     '''Do nothing.
    ...
    ...     Parameters
    ...     ----------
    ...     %(x)s
    ...     '''
    >>> "A number." in f.__doc__
    True
    """

    def __init__(self, **params):
        self.params = params

    def __call__(self, obj):
        if obj.__doc__:
            obj.__doc__ = obj.__doc__ % self.params
        return obj


_n_jobs = """n_jobs : int or None, default=None
        Number of joblib workers (``None`` means 1 unless in a
        ``joblib.parallel_config`` context; ``-1`` all cores).  Workers are
        started only when the work is projected to outlast their start-up
        (:data:`skcrystal.base.PARALLEL_MIN_SECONDS`); inside
        ``joblib.parallel_config(backend="dask")`` (or ``"ray"``) the
        structures always go to the cluster, as plain arrays where the
        featurizer allows it, and come back in row order."""

_verbose = """verbose : int, default=0
        Show a tqdm progress bar when > 0."""

_on_error = """on_error : {"raise", "nan"}, default="raise"
        ``"raise"`` stops at the first structure that cannot be featurized
        and names its row; ``"nan"`` gives a NaN row (``None`` for object
        outputs) instead, with a warning naming the rows (rows are never
        dropped; a model predicts such a row with its fallback value)."""

_memory = """memory : str, path, joblib.Memory or None, default=None
        On-disk feature cache: a folder (or a ``joblib.Memory``) where each
        structure's features are stored, keyed by the structure's content
        hash, the featurizer's class and parameters (and fitted state that
        changes the output) and the skcrystal version, so a later run or
        another process never featurizes the same structure twice with the
        same settings.  Safe with several processes writing at once (joblib
        writes each entry atomically).  Its size and location are yours:
        ``joblib.Memory(folder).reduce_size(bytes_limit="10G")`` trims it,
        ``.clear()`` empties it.  The in-memory cache is used as well."""

#: The parameters every featurizer shares (``skcrystal.base.StructureFeaturizer``).
FEATURIZER_PARAMS = {"n_jobs": _n_jobs, "verbose": _verbose, "on_error": _on_error, "memory": _memory}

_featurizer = """featurizer : transformer or None, default=None
        Applied when the model is given structures (cloned into
        ``featurizer_`` at fit); ``None`` uses the model's default
        featurizer.  In a Pipeline after a featurizer step leave it as is:
        the model then takes that step's output."""

_random_state = """random_state : int, RandomState or None, default=None
        Seeds weight initialisation, dropout and the shuffling of batches
        (the global torch RNG is left untouched): the same seed gives the
        same predictions."""

_early_stopping = """early_stopping : bool or int, default=False
        Patience in epochs (``True`` means 10) on a held-out
        ``validation_fraction``; the best epoch's weights are restored."""

_validation_fraction = """validation_fraction : float, default=0.1
        Share of the training rows held out (seeded) when
        ``early_stopping`` is on and ``train_split`` is None."""

_gradient_clipping = """gradient_clipping : float or None, default=None
        Clip the gradient norm to this value."""

_device = """device : str, torch.device or None, default="auto"
        ``"auto"``: the GPU when torch sees one when the network is built
        (at fit), else the CPU; or any torch device (``"cpu"``,
        ``"cuda:1"``)."""

_verbose_net = """verbose : int, default=0
        1 prints skorch's per-epoch history table."""

#: The parameters every skcrystal network shares (``skcrystal.models.base.CrystalNetMixin``).
NETWORK_PARAMS = {
    "featurizer": _featurizer,
    "random_state": _random_state,
    "early_stopping": _early_stopping,
    "validation_fraction": _validation_fraction,
    "gradient_clipping": _gradient_clipping,
    "device": _device,
    "verbose": _verbose_net,
}
