"""Runs SQL statements on a local Apache Flink (PyFlink) and times the last.

Used by eddy's `nexmark` benchmark to run the same statements on Flink as on
eddy: `python flink_runner.py PARALLELISM [--set KEY=VALUE]... STATEMENT...`
sets the configuration, executes every statement in order in a streaming
TableEnvironment, waits for the last one (an INSERT) to finish and prints
`seconds <elapsed>` for it.
"""

import sys
import time

from pyflink.table import EnvironmentSettings, TableEnvironment


def main() -> None:
    parallelism, *statements = sys.argv[1:]
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", parallelism)
    while len(statements) > 1 and statements[0] == "--set":
        key, value = statements[1].split("=", 1)
        env.get_config().set(key, value)
        statements = statements[2:]
    for statement in statements[:-1]:
        env.execute_sql(statement)
    start = time.time()
    env.execute_sql(statements[-1]).wait()
    print("seconds", time.time() - start)


if __name__ == "__main__":
    main()
