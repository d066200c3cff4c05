"""A notebook kernel's view of Spark: plain `python3`, pyspark from SPARK_HOME on
sys.path, a SparkSession in client mode whose driver advertises a Service name.

env: MASTER (spark://…), DRIVER_HOST (the alias executors dial), TASKS.
"""

import glob
import os
import sys
import time

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
    .getOrCreate()
)
sc = spark.sparkContext
# A notebook shell logs at WARN; print what the test (the "user") needs to see.
print("Notebook app id: %s" % sc.applicationId, flush=True)
print("Notebook driver host: %s" % sc.getConf().get("spark.driver.host"), flush=True)
print(
    "Notebook block manager: %s"
    % sc._jsc.sc().env().blockManager().blockManagerId().hostPort(),
    flush=True,
)
sc.setLogLevel("INFO")
try:
    # Like a user waiting for the executor pods to come up before running a cell.
    deadline = time.time() + 180
    while sc._jsc.sc().getExecutorMemoryStatus().size() < 3:  # driver + 2 executors
        if time.time() > deadline:
            raise SystemExit("executors did not join within 180 s")
        time.sleep(0.5)
    print("Notebook executors joined", flush=True)
    tasks = int(os.environ.get("TASKS", "8"))
    df = spark.range(0, 1000 * tasks, numPartitions=tasks)
    total = df.rdd.map(lambda r: r.id).sum()
    print("Notebook sum is %d" % total)
    squares = spark.createDataFrame([(i, i * i) for i in range(4)], ["n", "sq"])
    print("Notebook squares: %s" % squares.selectExpr("sum(sq)").first()[0])
finally:
    spark.stop()
