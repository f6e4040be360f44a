"""spark_mm.report"""
