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
"""

from .clusters import ITT_CLUSTERS, cluster_labels, resolve_clusters
from .persistence import alpha_persistence, rips_persistence
from .pih import alpha_interaction_complex, interaction_barcodes, rips_interaction_complex
from .supercell import supercell_coords, supercell_repeats
from .vectorize import betti_counts, diagram_stats, make_grid, persistence_image

__all__ = [
    "ITT_CLUSTERS",
    "alpha_interaction_complex",
    "alpha_persistence",
    "betti_counts",
    "cluster_labels",
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
