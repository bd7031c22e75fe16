"""One home for the references skcrystal's estimators return from ``citations()``.

Each constant is one plain-text reference (authors, title, venue, year, DOI
or arXiv id); estimators list the ones they implement in ``_citations`` and
``docs/citations.rst`` gives the same list for readers.
"""

__all__ = [
    "BRESSON2017",
    "CHEN2016_XGBOOST",
    "CHEN2025_ITT",
    "CLAUSSEN2020",
    "LEE2019_SET_TRANSFORMER",
    "MARIA2014_GUDHI",
    "NOP2025_FAITHFUL",
    "WARD2016_MAGPIE",
    "WARD2018_MATMINER",
    "XIE2018_CGCNN",
]

NOP2025_FAITHFUL = (
    "Nop, G., Mundy, M., Smith, J. D. H. & Paudyal, D. Faithful novel machine learning for predicting "
    "quantum properties. npj Comput. Mater. 11, 227 (2025). https://doi.org/10.1038/s41524-025-01655-w"
)
CLAUSSEN2020 = (
    "Claussen, N., Bernevig, B. A. & Regnault, N. Detection of topological materials with machine "
    "learning. Phys. Rev. B 101, 245117 (2020). https://doi.org/10.1103/PhysRevB.101.245117"
)
XIE2018_CGCNN = (
    "Xie, T. & Grossman, J. C. Crystal graph convolutional neural networks for an accurate and interpretable "
    "prediction of material properties. Phys. Rev. Lett. 120, 145301 (2018). "
    "https://doi.org/10.1103/PhysRevLett.120.145301"
)
BRESSON2017 = (
    "Bresson, X. & Laurent, T. Residual gated graph ConvNets. arXiv:1711.07553 (2017)."
)
LEE2019_SET_TRANSFORMER = (
    "Lee, J., Lee, Y., Kim, J., Kosiorek, A. R., Choi, S. & Teh, Y. W. Set Transformer: a framework for "
    "attention-based permutation-invariant neural networks. Proc. ICML, PMLR 97, 3744-3753 (2019)."
)
CHEN2025_ITT = (
    "Chen, D. et al. Interaction Topological Transformer for multiscale learning in porous materials. "
    "arXiv:2509.18573 (2025); code: https://github.com/WeilabMSU/ITTransformer"
)
MARIA2014_GUDHI = (
    "Maria, C., Boissonnat, J.-D., Glisse, M. & Yvinec, M. The Gudhi Library: simplicial complexes and "
    "persistent homology. Proc. ICMS 2014, LNCS 8592, 167-174 (2014)."
)
WARD2016_MAGPIE = (
    "Ward, L., Agrawal, A., Choudhary, A. & Wolverton, C. A general-purpose machine learning framework for "
    "predicting properties of inorganic materials. npj Comput. Mater. 2, 16028 (2016)."
)
WARD2018_MATMINER = (
    "Ward, L. et al. Matminer: an open source toolkit for materials data mining. Comput. Mater. Sci. 152, "
    "60-69 (2018)."
)
CHEN2016_XGBOOST = (
    "Chen, T. & Guestrin, C. XGBoost: a scalable tree boosting system. Proc. KDD, 785-794 (2016)."
)
