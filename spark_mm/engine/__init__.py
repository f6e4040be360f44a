"""spark_mm.engine"""
