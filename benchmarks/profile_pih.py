"""Per-stage seconds of PIH's fast path (issue 12), per part, for shipped MOFs and oracle MP cells.

Run::

    python benchmarks/profile_pih.py ABEYEN_clean AQUCOG_clean mp:0   # -> results/profile_pih.json

One core, warm (the structure is featurized once before the timed run);
stages: supercell, Delaunay (gudhi's triangulation, simplex tree,
serialization and parsing), values (certified codes: geometry, exact
tests, radii asked from gudhi, propagation, face maxima), persistence
(union-find / reduction on codes), per-atom PIH (interaction part) and
vectorising; parts: structure + clusters (one cloud each) and interactions
(one cloud per cluster pair; a two-cluster cell's single pair cloud
relabels the structure's triangulation instead: ``relabel_triangulation``).  ``mp:i`` is cell ``i`` of
``oracle_pih.oracle_cells()``.
"""
import collections
import json
import os
import sys
import time
import warnings
from pathlib import Path

from pymatgen.core import Structure

warnings.simplefilter("ignore")
import skcrystal.datasets  # noqa: E402
import skcrystal.featurizers.pih as fp
from skcrystal.featurizers.pih import PersistentInteractionHomology
from skcrystal.base import clear_feature_cache
from skcrystal.topology import fast  # noqa: E402

DATA = Path(skcrystal.datasets.__file__).parent / "data"
T = collections.Counter()
part = ["?"]


def wrap(mod, name, key):
    f = getattr(mod, name)

    def g(*a, **k):
        t = time.perf_counter()
        r = f(*a, **k)
        T[(part[0], key)] += time.perf_counter() - t
        return r

    setattr(mod, name, g)


wrap(fast, "_delaunay", "delaunay")
wrap(fast, "_alpha_codes", "delaunay+values")
wrap(fast, "_persistence_codes", "persistence")
wrap(fast, "codes_to_betti", "vectorise")
wrap(fp, "interaction_barcodes", "per_atom_pih")
wrap(fp, "code_bars_to_betti", "vectorise")
_sc = fp.supercell_coords


def _supercell(*a, **k):
    t = time.perf_counter()
    r = _sc(*a, **k)
    T[("all", "supercell")] += time.perf_counter() - t
    return r


fp.supercell_coords = _supercell
_ab, _apc = fp.alpha_betti, fp.alpha_pair_codes


def _alpha_betti(*a, **k):
    part[0] = "structure+clusters"
    return _ab(*a, **k)


def _alpha_pair_codes(*a, **k):
    part[0] = "interactions"
    return _apc(*a, **k)


fp.alpha_betti, fp.alpha_pair_codes = _alpha_betti, _alpha_pair_codes
_dl, _reo = fp.delaunay, fp.reorder_triangulation


def _shared_delaunay(*a, **k):
    # one triangulation of the structure's cloud shared by filtrations (a one- or two-cluster cell)
    part[0] = "structure+clusters"
    t = time.perf_counter()
    r = _dl(*a, **k)
    T[(part[0], "delaunay_outside")] += time.perf_counter() - t
    return r


def _reorder(*a, **k):
    t = time.perf_counter()
    r = _reo(*a, **k)
    T[("interactions", "relabel_triangulation")] += time.perf_counter() - t
    return r


fp.delaunay, fp.reorder_triangulation = _shared_delaunay, _reorder


def profile(arg):
    T.clear()
    if arg.startswith("mp:"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from oracle_pih import oracle_cells

        frame, cid, s = oracle_cells()[int(arg[3:])]
        name = f"{frame} {cid} {s.composition.reduced_formula}"
    else:
        s = Structure.from_file(str(DATA / "mof_cifs" / f"{arg}.cif"))
        name = arg
    f = PersistentInteractionHomology(output="tokens")
    f.fit_transform([s])
    clear_feature_cache()
    T.clear()
    t = time.perf_counter()
    f.fit_transform([s])
    tot = time.perf_counter() - t
    out = {k[0] + "/" + k[1]: round(v, 3) for k, v in sorted(T.items())}
    for p in ("structure+clusters", "interactions"):
        if (p, "delaunay+values") in T:
            inside = T[(p, "delaunay")] - T[(p, "delaunay_outside")]
            out[p + "/values"] = round(T[(p, "delaunay+values")] - inside, 3)
            del out[p + "/delaunay+values"]
        out.pop(p + "/delaunay_outside", None)
    row = {"name": name, "sites": len(s), "total_s": round(tot, 3), "seconds": out, "load": os.getloadavg()[0]}
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    rows = [profile(a) for a in sys.argv[1:]]
    (Path(__file__).resolve().parent / "results" / "profile_pih.json").write_text(json.dumps(rows, indent=1))
