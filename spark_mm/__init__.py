"""spark-mm: multimodal data curation on Spark + Iceberg with Rust kernels."""
__version__ = "0.1.0"
