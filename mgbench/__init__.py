"""mgbench: a graph-learning benchmark suite for social-bot and stance detection.

The parts, lowest first (a lower part never imports a higher one):
``datasets`` -> ``features`` -> ``baselines`` + ``losses`` -> ``benchmark`` -> ``leaderboard``.
"""

__version__ = "0.1.0"
