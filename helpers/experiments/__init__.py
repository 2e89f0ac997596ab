"""The cached experiment runners of particular lessons: slow, rarely edited, read from the cache.

- :mod:`helpers.experiments.curves`: label-budget curves, transfer vs the best
  from-scratch recipe (lessons 01, 04, 05, 06);
- :mod:`helpers.experiments.ecg`: ECG beats, pretraining and fine-tuning the
  recurrent classifier (lesson 03);
- :mod:`helpers.experiments.classifiers`: the trained classifiers
  and the class-imbalance study of lesson 06.

A runner may import the library (``helpers``) and other runners; the library
never imports a runner (``docs/architecture.md``). A lesson imports one as
``from helpers.experiments import curves``.
"""
