"""Reusable pieces of persistent (interaction) homology for crystal structures.

Pure numpy/scipy/gudhi building blocks used by
:class:`skcrystal.featurizers.PersistentInteractionHomology`; nothing here
depends on scikit-learn.

- :mod:`~skcrystal.topology.clusters` -- element clusters (ITT's C0..C6).
- :mod:`~skcrystal.topology.supercell` -- ITT's supercell rule.
- :mod:`~skcrystal.topology.persistence` -- alpha / Vietoris-Rips persistence.
- :mod:`~skcrystal.topology.pih` -- the per-A-atom persistent interaction
  homology with a vectorised union-find.
- :mod:`~skcrystal.topology.vectorize` -- Betti counts, persistence images,
  diagram statistics.
- :mod:`~skcrystal.topology.periodic` -- exact periodic interaction complexes.
- :mod:`~skcrystal.topology.fast` -- Betti counts of alpha filtrations from
  certified grid codes (bit-exact with the gudhi path, several times faster).
"""

from .clusters import ITT_CLUSTERS, cluster_labels, resolve_clusters
from .fast import alpha_betti, alpha_pair_codes, code_bars_to_betti
from .persistence import alpha_persistence, rips_persistence
from .pih import alpha_interaction_complex, interaction_barcodes, rips_interaction_complex
from .supercell import canonical_frac, supercell_coords, supercell_repeats
from .vectorize import betti_counts, diagram_stats, make_grid, persistence_image

__all__ = [
    "ITT_CLUSTERS",
    "alpha_betti",
    "alpha_interaction_complex",
    "alpha_pair_codes",
    "alpha_persistence",
    "betti_counts",
    "canonical_frac",
    "cluster_labels",
    "code_bars_to_betti",
    "diagram_stats",
    "interaction_barcodes",
    "make_grid",
    "persistence_image",
    "resolve_clusters",
    "rips_interaction_complex",
    "rips_persistence",
    "supercell_coords",
    "supercell_repeats",
]
