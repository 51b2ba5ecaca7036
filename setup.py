"""reparse: model parsing of generative models (RE-Net / AdaParse) in TensorFlow/Keras 3."""

from setuptools import find_packages, setup

setup(
    name="reparse",
    version="0.1.0",
    description="Reverse-engineer generative models from their images: fingerprints, model parsing, "
    "deepfake detection and attribution (TensorFlow / Keras 3, Beam, TFMA, KFP v2).",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    # the design card's top-level folders install inside reparse_tf, never as generic top-level names
    package_dir={"reparse_tf.components": "components", "reparse_tf.pipeline": "pipeline",
                 "reparse_tf.schemas": "schemas"},
    packages=[*find_packages(include=["reparse_tf", "reparse_tf.*"]),
              *(f"reparse_tf.{p}" for p in find_packages(include=["components", "components.*", "pipeline"])),
              "reparse_tf.schemas"],
    # the packaged default models (`reparse defaults build --install`): their weights ship with the package
    package_data={"reparse_tf.schemas": ["*.json", "*.csv"], "reparse_tf": ["default_models/*/*"]},
    include_package_data=True,
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.15,<3.16",
        "apache-beam==2.77.*",
        "tensorflow-model-analysis==0.52.*",
        "kfp==2.17.*",
        "numpy",
        "scipy",
        "scikit-learn",
        "scikit-image",
        "pillow",
        "matplotlib",
        "tqdm",
        "rich",
    ],
    extras_require={
        # jax: the model must also train under KERAS_BACKEND=jax; xdist + filelock: the suite on 2 workers
        "test": ["pytest", "pytest-xdist", "filelock", "ruff", "jax"],
        "jax": ["jax"],
    },
    entry_points={"console_scripts": ["reparse = reparse_tf.cli:main"]},
)
