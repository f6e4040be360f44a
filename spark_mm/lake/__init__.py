"""spark_mm.lake"""
