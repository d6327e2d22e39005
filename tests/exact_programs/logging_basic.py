import logging

logging.warning("a warning from %s", "root")
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
logging.getLogger("app").info("configured")
