# The container image every pipeline component runs in on Kubeflow: Python 3.11 with reparse and its
# pinned stack (TensorFlow, Keras, Beam, TFMA, KFP) installed; nothing is pip-installed at run time.
#   docker build -t REGISTRY/reparse:0.1.0 .
#   reparse pipeline compile --image REGISTRY/reparse:0.1.0 --out reparse.yaml
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /opt/reparse
COPY setup.py pyproject.toml README.md LICENSE ./
COPY schemas schemas
COPY reparse_tf reparse_tf
COPY components components
COPY pipeline pipeline
RUN pip install . && python -c "import reparse_tf.components._common, reparse_tf.pipeline.pipeline, reparse_tf.data.schema"
WORKDIR /work
