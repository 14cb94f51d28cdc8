"""Feature-only baselines (scikit-learn), with the MGTAB reference scripts' settings.

Each is registered exactly as a user's estimator would be. The runner sets
``random_state`` to the run's seed for estimators that take one. The SVM
uses ``probability=False`` (the reference sets ``True``): Platt scaling runs a
5-fold internal cross-validation that costs minutes and does not change
``predict``; ROC-AUC is computed from the decision function instead.
"""

import importlib
import inspect
from functools import cached_property

from mgbench.registry import Choice, IntRange, LogUniform, register_model


class Estimator:
    """A scikit-learn estimator class, imported when a run first builds or inspects it.

    Why: registering the seven estimators must not import scikit-learn (about a
    second of CPU), so that ``mgbench models`` answers quickly. Calling it builds
    the estimator; its signature is the class's, so hyperparameter names are
    checked and ``random_state`` is found exactly as for the class itself.
    """

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    @cached_property
    def cls(self) -> type:
        return getattr(importlib.import_module(self.module), self.name)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.cls)

    def __call__(self, **params):
        return self.cls(**params)

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


AdaBoostClassifier = Estimator("sklearn.ensemble", "AdaBoostClassifier")
RandomForestClassifier = Estimator("sklearn.ensemble", "RandomForestClassifier")
DecisionTreeClassifier = Estimator("sklearn.tree", "DecisionTreeClassifier")
SVC = Estimator("sklearn.svm", "SVC")
KNeighborsClassifier = Estimator("sklearn.neighbors", "KNeighborsClassifier")
LogisticRegression = Estimator("sklearn.linear_model", "LogisticRegression")
MLPClassifier = Estimator("sklearn.neural_network", "MLPClassifier")

register_model("adaboost", kind="features", defaults={"n_estimators": 50, "learning_rate": 1.0},
               description="AdaBoost (SAMME) over decision stumps",
               search_space={"n_estimators": IntRange(25, 400, log=True),
                             "learning_rate": LogUniform(0.01, 2.0)})(AdaBoostClassifier)
register_model("random-forest", kind="features", defaults={"n_estimators": 100, "n_jobs": -1},
               description="Random forest, 100 trees",
               search_space={"n_estimators": IntRange(50, 400, step=50), "max_depth": Choice([None, 8, 16, 32]),
                             "min_samples_leaf": IntRange(1, 16, log=True),
                             "max_features": Choice(["sqrt", "log2"])})(RandomForestClassifier)
register_model("decision-tree", kind="features", defaults={"criterion": "gini"},
               description="CART decision tree",
               search_space={"criterion": Choice(["gini", "entropy"]), "max_depth": IntRange(2, 32, log=True),
                             "min_samples_leaf": IntRange(1, 32, log=True)})(DecisionTreeClassifier)
register_model("svm", kind="features", defaults={"kernel": "rbf", "C": 10.0},
               description="RBF-kernel SVM (C=10)",
               search_space={"C": LogUniform(0.01, 100.0), "gamma": Choice(["scale", "auto"])})(SVC)
register_model("knn", kind="features", defaults={"n_neighbors": 7},
               description="k-nearest neighbours (k=7)",
               search_space={"n_neighbors": IntRange(1, 64, log=True),
                             "weights": Choice(["uniform", "distance"])})(KNeighborsClassifier)
register_model("logistic-regression", kind="features", defaults={"C": 0.1, "max_iter": 500},
               description="L2 logistic regression (C=0.1)",
               search_space={"C": LogUniform(1e-3, 100.0)})(LogisticRegression)
register_model("mlp", kind="features", defaults={"hidden_layer_sizes": [256], "max_iter": 200,
                                                 "early_stopping": True},
               description="Multi-layer perceptron, one hidden layer of 256",
               search_space={"alpha": LogUniform(1e-6, 1e-1),
                             "learning_rate_init": LogUniform(1e-4, 1e-2)})(MLPClassifier)
