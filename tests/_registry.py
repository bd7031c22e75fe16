"""Registry of every public estimator for the contract suite (``tests/test_common.py``).

Each entry: ``name -> (factory, kind)`` where ``factory()`` returns a *tiny*, fast
instance (few epochs, small widths) and ``kind`` is one of ``"transformer"``,
``"regressor"``, ``"classifier"``.  ``test_common.py`` checks that every public
estimator of the package has an entry, so a new estimator must be added here.
"""

ESTIMATORS = {}

# An optional third element is a small parameter grid for the GridSearchCV check
# (default: a featurizer/model parameter chosen by test_common.py).


def _foundation():
    from skcrystal import featurizers as F
    from skcrystal import models as M

    tiny_nnn = dict(max_epochs=3, batch_size=16, module__hidden=(16,), random_state=0, verbose=0)
    ESTIMATORS.update(
        {
            "LeftStepComposition": (lambda: F.LeftStepComposition(), "transformer",
                                    {"leftstepcomposition__stats": [("mean",), ("mean", "max")]}),
            "LatticeEncoding": (lambda: F.LatticeEncoding(), "transformer",
                                {"latticeencoding__n_frequencies": [1, 2]}),
            "SpaceGroupEncoding": (lambda: F.SpaceGroupEncoding(), "transformer",
                                   {"spacegroupencoding__kind": ["space_group", "point_group"]}),
            "ElectronCounts": (lambda: F.ElectronCounts(), "transformer",
                               {"electroncounts__thermometer": [0, 3000]}),
            "FaithfulFeaturizer": (lambda: F.FaithfulFeaturizer(), "transformer",
                                   {"faithfulfeaturizer__symmetry": ["onehot", "ordinal"]}),
            "FractionalCoordinateEncoding": (lambda: F.FractionalCoordinateEncoding(max_sites=30), "transformer",
                                             {"fractionalcoordinateencoding__n_frequencies": [2, 3]}),
            "FaithfulBinned": (lambda: F.FaithfulBinned(bins=(8, 8, 4, 4), on_error="nan"), "transformer",
                               {"faithfulbinned__n_frequencies": [2, 3]}),
            "CompositionFeatures": (lambda: F.CompositionFeatures(presets=("stoichiometry", "valence_orbital")),
                                    "transformer", {"compositionfeatures__presets": [("stoichiometry",),
                                                                                      ("valence_orbital",)]}),
            "GBTRegressor": (lambda: M.GBTRegressor(n_estimators=20, max_depth=3, n_jobs=1, random_state=0),
                             "regressor", {"max_depth": [2, 3]}),
            "GBTClassifier": (lambda: M.GBTClassifier(n_estimators=20, max_depth=3, n_jobs=1, random_state=0),
                              "classifier", {"max_depth": [2, 3]}),
            "NNNRegressor": (lambda: M.NNNRegressor(**tiny_nnn), "regressor", {"lr": [1e-3, 3e-3]}),
            "NNNClassifier": (lambda: M.NNNClassifier(**tiny_nnn), "classifier", {"lr": [1e-3, 3e-3]}),
        }
    )


_foundation()


def register(name, kind):
    """Decorator: register ``factory`` under the class name ``name``."""

    def deco(factory):
        ESTIMATORS[name] = (factory, kind)
        return factory

    return deco


def _voxels():
    from skcrystal import featurizers as F
    from skcrystal import models as M

    tiny_ccnn = dict(max_epochs=2, batch_size=16, module__width=0.05, random_state=0,
                     featurizer=F.Voxelizer(grid=6, output="lazy"))
    ESTIMATORS.update(
        {
            "Voxelizer": (lambda: F.Voxelizer(grid=6, output="flat"), "transformer", {"voxelizer__grid": [4, 6]}),
            "CCNNRegressor": (lambda: M.CCNNRegressor(**tiny_ccnn), "regressor", {"lr": [1e-3, 3e-3]}),
            "CCNNClassifier": (lambda: M.CCNNClassifier(**tiny_ccnn), "classifier", {"lr": [1e-3, 3e-3]}),
        }
    )


_voxels()


def _graph_models():
    from skcrystal import featurizers as F
    from skcrystal import models as M

    tiny_cgnn = dict(max_epochs=2, batch_size=16, module__atom_fea_len=8, module__n_conv=1, module__h_fea_len=8,
                     module__global_fea_len=8, random_state=0, verbose=0)
    tiny_cann = dict(max_epochs=2, batch_size=16, module__d_model=8, module__n_heads=2, module__n_blocks=1,
                     module__ff_hidden=8, random_state=0, verbose=0)
    ESTIMATORS.update(
        {
            "CrystalGraph": (lambda: F.CrystalGraph(cutoff=5.0, max_neighbors=8), "transformer",
                             {"crystalgraph__cutoff": [4.0, 5.0]}),
            "CGNNRegressor": (lambda: M.CGNNRegressor(**tiny_cgnn), "regressor", {"module__n_conv": [1, 2]}),
            "CGNNClassifier": (lambda: M.CGNNClassifier(**tiny_cgnn), "classifier", {"module__n_conv": [1, 2]}),
            "CANNRegressor": (lambda: M.CANNRegressor(**tiny_cann), "regressor", {"module__pooling": ["pma", "mean"]}),
            "CANNClassifier": (lambda: M.CANNClassifier(**tiny_cann), "classifier",
                               {"module__attention": ["full", "isab"]}),
        }
    )


_graph_models()


def _topology():
    from skcrystal import featurizers as F

    # a small supercell and coarse grids keep the contract checks fast; the ITT defaults are tested
    # bit-exactly against the reference in tests/test_topology.py
    small = dict(supercell_length=8.0, structure_cutoff=8.0, structure_grid=(0, 8, 0.5),
                 interaction_cutoff=5.0, interaction_grid=(0, 5, 0.25))
    ESTIMATORS["PersistentInteractionHomology"] = (
        lambda: F.PersistentInteractionHomology(**small), "transformer",
        {"persistentinteractionhomology__vectorization": ["betti", "stats"]},
    )


_topology()


def _mgt():
    from skcrystal import featurizers as F
    from skcrystal import models as M

    tiny_net = dict(max_epochs=2, batch_size=16, module__width=8, module__n_layers=1, module__ns=4, module__nv=2,
                    module__angle_width=4, module__n_rbf=16, random_state=0, verbose=0)
    tiny_mgt = dict(tiny_net, module__hidden_dim=4)
    ESTIMATORS.update(
        {
            "DualViewGraph": (lambda: F.DualViewGraph(cutoff=5.0, max_neighbors=8), "transformer",
                              {"dualviewgraph__cutoff": [4.0, 5.0]}),
            "MGTRegressor": (lambda: M.MGTRegressor(**tiny_mgt), "regressor", {"module__n_layers": [1, 2]}),
            "MGTClassifier": (lambda: M.MGTClassifier(**tiny_mgt), "classifier", {"lr": [1e-3, 3e-3]}),
            "MGTPretrainer": (lambda: M.MGTPretrainer(**tiny_net), "transformer",
                              {"mgtpretrainer__angle_weight": [0.5, 1.0]}),
        }
    )


def _itt():
    from skcrystal import featurizers as F
    from skcrystal import models as M

    # small PIH settings (as the PIH entry) and a one-layer transformer keep the contract checks fast
    small = dict(supercell_length=8.0, structure_cutoff=8.0, structure_grid=(0, 8, 0.5),
                 interaction_cutoff=5.0, interaction_grid=(0, 5, 0.25))

    def tok():
        return F.ITTTokenizer(pih=F.PersistentInteractionHomology(**small))

    tiny = dict(max_epochs=2, batch_size=16, module__hidden=8, module__n_layers=1, module__n_heads=2,
                module__ffn=8, module__atom_fea_len=8, module__n_conv=1, random_state=0, verbose=0)
    ESTIMATORS.update(
        {
            "ITTTokenizer": (lambda: tok(), "transformer", {"itttokenizer__max_atoms": [2, 256]}),
            "ITTRegressor": (lambda: M.ITTRegressor(featurizer=tok(), **tiny), "regressor", {"lr": [1e-4, 1e-3]}),
            "ITTClassifier": (lambda: M.ITTClassifier(featurizer=tok(), **tiny), "classifier",
                              {"lr": [1e-4, 1e-3]}),
            "ITTPretrainer": (lambda: M.ITTPretrainer(featurizer=tok(), **tiny), "transformer",
                              {"ittpretrainer__mask_ratio": [0.15, 0.3]}),
        }
    )


_mgt()


_itt()


def _crystalformer():
    from skcrystal import featurizers as F
    from skcrystal import models as M

    tiny = dict(max_epochs=2, batch_size=16, module__d_model=8, module__n_layers=1, module__n_heads=2,
                module__ffn_dim=8, module__n_value_gaussians=16, random_state=0, verbose=0,
                featurizer=F.CrystalformerFeaturizer(cutoff=5.0))
    ESTIMATORS.update(
        {
            "CrystalformerFeaturizer": (lambda: F.CrystalformerFeaturizer(cutoff=5.0), "transformer",
                                        {"crystalformerfeaturizer__cutoff": [4.0, 5.0]}),
            "CrystalformerRegressor": (lambda: M.CrystalformerRegressor(**tiny), "regressor", {"swa_epochs": [0, 1]}),
            "CrystalformerClassifier": (lambda: M.CrystalformerClassifier(**tiny), "classifier",
                                        {"lr_decay_steps": [None, 100]}),
        }
    )


_crystalformer()


# Data records: the per-structure objects that object-output featurizers return (dataclasses of numpy
# arrays, not estimators).  ``name -> producer``: the registered featurizer whose ``transform`` returns one
# per row.  Every public record (a dataclass in ``skcrystal.featurizers`` / ``skcrystal.models``
# ``__all__``) must be listed here; ``tests/test_common.py`` then checks it is what its producer returns,
# one per row, picklable with equal fields, without non-finite values, and that its invariant_view()
# (what the invariance suite compares) tells different crystals apart.
RECORDS = {
    "CrystalformerInput": "CrystalformerFeaturizer",
    "CrystalGraphData": "CrystalGraph",
    "DualViewGraphData": "DualViewGraph",
    "ITTTokens": "ITTTokenizer",
}
