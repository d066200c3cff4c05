"""A PySpark job whose tasks take a known time, so a test can act mid-job.

usage: spark-submit slow_job.py TASKS SECONDS_PER_TASK
Prints "Slow job sum is N" (N = TASKS*(TASKS-1)/2) and, per executor host, the uid
and the passwd name the Python workers ran as ("Task identity: host uid name").
"""

import os
import pwd
import socket
import sys
import time

from pyspark.sql import SparkSession


def work(i):
    time.sleep(SECONDS)
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = "?"
    return (i, "%s %d %s" % (socket.gethostname(), uid, name))


TASKS = int(sys.argv[1])
SECONDS = float(sys.argv[2])

spark = SparkSession.builder.appName("SlowJob").getOrCreate()
try:
    rows = spark.sparkContext.parallelize(range(TASKS), TASKS).map(work).collect()
    print("Slow job sum is %d" % sum(i for i, _ in rows))
    for ident in sorted(set(who for _, who in rows)):
        print("Task identity: %s" % ident)
finally:
    spark.stop()
