"""spark_mm.sources"""
