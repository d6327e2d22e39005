# expect: ok
"""
Validate a folder of JSON service configurations against a small schema and write a
report of every problem found. Written as a reusable script with a main() function.
"""
import json
import os
from dataclasses import dataclass, field

SCHEMA = {
    "name": str,
    "port": int,
    "replicas": int,
    "env": dict,
    "healthcheck": dict,
}
ALLOWED_ENVS = {"dev", "staging", "prod"}


@dataclass
class Report:
    checked: int = 0
    problems: dict = field(default_factory=dict)

    def add(self, filename, message):
        self.problems.setdefault(filename, []).append(message)


def make_sample_configs(folder):
    os.makedirs(folder, exist_ok=True)
    samples = {
        "api.json": {"name": "api", "port": 8080, "replicas": 3, "env": {"stage": "prod"},
                     "healthcheck": {"path": "/health", "interval": 10}},
        "worker.json": {"name": "worker", "port": "9000", "replicas": 0, "env": {"stage": "qa"},
                        "healthcheck": {"path": "/ping"}},
        "cache.json": {"name": "cache", "port": 6379, "replicas": 2, "env": {"stage": "dev"}},
    }
    for filename, content in samples.items():
        with open(os.path.join(folder, filename), "w") as fh:
            json.dump(content, fh, indent=2)
    with open(os.path.join(folder, "broken.json"), "w") as fh:
        fh.write('{"name": "broken", "port": 80,,}')


def validate(filename, config, report):
    for key, expected in SCHEMA.items():
        if key not in config:
            report.add(filename, f"missing key '{key}'")
        elif not isinstance(config[key], expected):
            report.add(filename, f"'{key}' should be {expected.__name__}, got {type(config[key]).__name__}")
    if isinstance(config.get("port"), int) and not 1 <= config["port"] <= 65535:
        report.add(filename, "port out of range")
    if config.get("replicas") == 0:
        report.add(filename, "replicas is 0: service would never start")
    if config.get("env", {}).get("stage") not in ALLOWED_ENVS:
        report.add(filename, f"unknown stage {config.get('env', {}).get('stage')!r}")
    if "interval" not in config.get("healthcheck", {"interval": None}):
        report.add(filename, "healthcheck has no interval")


def main():
    folder = "configs"
    make_sample_configs(folder)
    report = Report()
    for filename in sorted(os.listdir(folder)):
        report.checked += 1
        try:
            with open(os.path.join(folder, filename)) as fh:
                config = json.load(fh)
        except json.JSONDecodeError as err:
            report.add(filename, f"invalid JSON at line {err.lineno} column {err.colno}")
            continue
        validate(filename, config, report)
    print(f"Checked {report.checked} files, {len(report.problems)} with problems\n")
    for filename, messages in report.problems.items():
        print(filename)
        for message in messages:
            print(f"  - {message}")
    with open("validation_report.json", "w") as fh:
        json.dump(report.problems, fh, indent=2)


if __name__ == "__main__":
    main()
