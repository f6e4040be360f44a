"""Image links: ``<img>`` tags with alt text out of crawled pages (LAION-5B, DataComp CommonPool, COYO).

Pure Python over pages and WAT records, no Spark: ``html_links`` reads a page's DOM (resiliparse),
``wat_links`` reads Common Crawl's WAT metadata, ``rules`` decides LAION's link filters, ``pages``
turns one bronze ``samples`` row into its links plus one accounting row, ``schema`` holds the
Arrow layouts of ``<ns>.image_links`` and ``<ns>.signals_links`` (docs/image_text.md). The Spark
step lives in ``spark_mm/engine/links_stage.py``.
"""
