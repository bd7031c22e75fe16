"""Element clusters: partition atoms by element (ITT's C0..C6 by default)."""

from __future__ import annotations

import numpy as np
from pymatgen.core.periodic_table import Element

from ..encodings.atoms import MAX_Z as _MAX_Z

__all__ = ["ITT_CLUSTERS", "REST", "cluster_labels", "resolve_clusters"]

#: Marker for "every element not listed in another cluster".
REST = "*"

#: ITT's seven element clusters, in token order (C4 takes every other element).
ITT_CLUSTERS = {
    "C0": ("B", "C", "Si", "P"),
    "C1": ("H",),
    "C2": ("O",),
    "C3": ("N",),
    "C4": (REST,),
    "C5": ("F", "S", "Cl", "Ge", "As", "Se", "Br", "Te", "I"),
    "C6": ("Li", "Na", "Mg", "K", "Ca", "Rb", "Sr", "Cs", "Ba"),
}



def resolve_clusters(clusters=None):
    """Turn a cluster specification into names and a Z -> cluster lookup table.

    Parameters
    ----------
    clusters : dict, list of lists, or None
        ``None`` gives :data:`ITT_CLUSTERS`.  A dict maps cluster names to
        element symbols (or atomic numbers); a list of lists is named
        ``C0, C1, ...``.  At most one cluster may contain ``"*"``, meaning
        every element not listed elsewhere; without it, unlisted elements
        belong to no cluster (they still count in the whole-structure part).

    Returns
    -------
    names : list of str
        Cluster names in token order.
    table : ndarray of shape (119,), int
        ``table[Z]`` is the cluster index of element ``Z`` (-1 for none).

    Raises
    ------
    ValueError
        On unknown elements, an element in two clusters, an empty cluster
        list or more than one ``"*"``.
    """
    if clusters is None:
        clusters = ITT_CLUSTERS
    if isinstance(clusters, dict):
        items = [(str(k), v) for k, v in clusters.items()]
    else:
        try:
            items = [(f"C{i}", v) for i, v in enumerate(clusters)]
        except TypeError:
            raise ValueError(
                f"clusters must be None, a dict name -> elements or a list of element lists, got {clusters!r}"
            ) from None
    if not items:
        raise ValueError("clusters must name at least one cluster")
    table = np.full(_MAX_Z + 1, -1, dtype=np.int64)
    rest = None
    names = []
    for ci, (name, elements) in enumerate(items):
        names.append(name)
        if isinstance(elements, (str, int, np.integer)):
            elements = [elements]
        for el in elements:
            if el == REST:
                if rest is not None:
                    raise ValueError(f"only one cluster may hold '*' (found in {names[rest]!r} and {name!r})")
                rest = ci
                continue
            try:
                z = int(el) if isinstance(el, (int, np.integer)) else Element(str(el)).Z
            except Exception:  # noqa: BLE001
                raise ValueError(f"cluster {name!r}: unknown element {el!r}") from None
            if not 1 <= z <= _MAX_Z:
                raise ValueError(f"cluster {name!r}: atomic number {z} out of range 1..{_MAX_Z}")
            if table[z] != -1:
                raise ValueError(
                    f"element {Element.from_Z(z).symbol} is in two clusters ({names[table[z]]!r} and {name!r})"
                )
            table[z] = ci
    if len(set(names)) != len(names):
        raise ValueError(f"cluster names must be unique, got {names}")
    if rest is not None:
        table[1:][table[1:] == -1] = rest
    return names, table


def cluster_labels(Z, table):
    """Cluster index of each atom.

    Parameters
    ----------
    Z : array-like of int
        Atomic numbers.
    table : ndarray
        Lookup table from :func:`resolve_clusters`.

    Returns
    -------
    ndarray of int
        Cluster index per atom (-1 for atoms in no cluster).
    """
    return np.asarray(table)[np.asarray(Z, dtype=np.int64)]
