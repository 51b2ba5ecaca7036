"""The offline GM zoo: seeded, really trained generative models whose labels are counted from the built networks."""
