"""Model: RE-Net, the fingerprint estimation network (FEN) and the parsing network (PN).

``fen`` is the FEN (DnCNN); ``fingerprint_losses`` its four FFT constraints J_m, J_s, J_r, J_e (eq. 1-4
of the TPAMI paper); ``parsers`` the PN's encoder, the cluster and instance parsers, the discrete
fusion and the parsing losses (eq. 5-9); ``renet`` builds and compiles FEN + PN from a preset;
``fingerprint_classifier`` the shallow classifiers of deepfake detection and image attribution.
Keras 3 only (``keras`` / ``keras.ops``): the same code trains under TensorFlow and JAX.
"""
