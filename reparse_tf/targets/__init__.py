"""Training targets beyond the raw labels.

``cluster_ground_truth``: the cluster parser's targets (training GMs clustered on their hyperparameters,
each cluster's mean / majority as its ground truth; Beam). ``random_gt``: the random-ground-truth
control (labels shuffled across GMs), which tells whether the parser learns hyperparameters at all.
"""
