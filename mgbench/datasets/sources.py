"""Where the official archives live, and what we know about them.

The MGTAB authors publish their archives on Google Drive without checksums.
``sha256``/``size`` are therefore ``None`` until known: the first verified
download records the archive's SHA-256 and size in ``<root>/checksums.json``
and every later download is checked against that record (trust on first use).
Once a maintainer has checked an archive, its digest belongs here.
"""

from __future__ import annotations

from dataclasses import dataclass

GDRIVE = "https://drive.google.com/uc?export=download&id={}"


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    filename: str
    marker: str                      # a file whose presence means the dataset is there
    sha256: str | None
    size: int | None
    license: str
    citation: str
    homepage: str


MGTAB_CITATION = (
    "Shi, S., Qiao, K., Chen, J., Yang, S., Yang, J., Song, B., Wang, L., Yan, B. (2023). "
    "MGTAB: A Multi-Relational Graph-Based Twitter Account Detection Benchmark. arXiv:2301.01123."
)
CRESCI_CITATION = (
    "Cresci, S., Di Pietro, R., Petrocchi, M., Spognardi, A., Tesconi, M. (2015). Fame for sale: "
    "efficient detection of fake Twitter followers. Decision Support Systems 80. "
    "Standardised graph version: Feng, S. et al. (2021) BotRGCN; distributed by the MGTAB authors."
)

SOURCES: dict[str, Source] = {
    "mgtab": Source(
        "mgtab", GDRIVE.format("1gbWNOoU1JB8RrTu2a5j9KMNVa9wX72Fe"), "MGTAB.zip", "features.pt",
        None, None, "CC BY-NC-ND 4.0", MGTAB_CITATION, "https://github.com/GraphDetec/MGTAB"),
    "mgtab-large": Source(
        "mgtab-large", GDRIVE.format("17XuXbklLJgZI3uISaB6I4Kw39FTw8r1i"), "MGTAB-large.zip",
        "large_features.pt", None, None, "CC BY-NC-ND 4.0", MGTAB_CITATION, "https://github.com/GraphDetec/MGTAB"),
    "cresci-15": Source(
        "cresci-15", GDRIVE.format("1AzMUNt70we5G2DShS8hk5qH95VR9HfD3"), "Cresci-15.zip",
        "cat_properties_tensor.pt", None, None, "research use (see the Bot Repository terms)",
        CRESCI_CITATION, "https://github.com/GraphDetec/MGTAB"),
}
