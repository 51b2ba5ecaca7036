"""Evaluation: how well a trained model parses, detects and attributes GMs it has never seen.

``parsing_evaluation`` scores a parser on a fold's test GMs with ``metrics`` (L1, R², F1, accuracy)
beside the trivial ``baselines`` (constant, label copy, family oracle; ``baseline_evaluation``) and the
``spectral_peer``; ``aggregation`` is multi-image parsing; ``significance`` the paired tests over
test GMs; ``tfma_eval`` the TFMA slices; ``blessing`` the push gates; ``same_source`` and
``forensic_evaluation`` the applications; ``benchmark`` runs folds x variants; ``report`` writes the
HTML / Markdown reports.
"""
