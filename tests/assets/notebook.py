"""A notebook kernel's view of Spark: plain `python3`, pyspark from SPARK_HOME on
sys.path, a SparkSession in client mode whose driver advertises a Service name.

env: MASTER (spark://…), DRIVER_HOST (the alias executors dial), TASKS.
"""

import glob
import os
import sys

home = os.environ["SPARK_HOME"]
sys.path[:0] = [os.path.join(home, "python")] + glob.glob(
    os.path.join(home, "python", "lib", "py4j-*-src.zip")
)

from pyspark.sql import SparkSession  # noqa: E402

spark = (
    SparkSession.builder.appName("Notebook")
    .master(os.environ["MASTER"])
    .config("spark.driver.host", os.environ["DRIVER_HOST"])
    .config("spark.driver.bindAddress", "0.0.0.0")
    .config("spark.driver.port", "7078")
    .config("spark.driver.blockManager.port", "7079")
    .config("spark.driver.memory", "512m")
    .config("spark.ui.enabled", "false")
    .config("spark.cores.max", "2")
    .config("spark.executor.cores", "1")
    .config("spark.executor.memory", "512m")
    .config("spark.scheduler.minRegisteredResourcesRatio", "1.0")
    .config("spark.scheduler.maxRegisteredResourcesWaitingTime", "180s")
    .getOrCreate()
)
try:
    tasks = int(os.environ.get("TASKS", "8"))
    df = spark.range(0, 1000 * tasks, numPartitions=tasks)
    total = df.rdd.map(lambda r: r.id).sum()
    print("Notebook sum is %d" % total)
    print("Notebook squares: %s" % spark.createDataFrame([(i, i * i) for i in range(4)], ["n", "sq"]).selectExpr("sum(sq)").first()[0])
finally:
    spark.stop()
