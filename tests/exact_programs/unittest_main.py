import io
import unittest


class T(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(1 + 1, 2)

    def test_fails(self):
        self.assertEqual(1 + 1, 3)


prog = unittest.main(exit=False, testRunner=unittest.TextTestRunner(stream=io.StringIO()))
r = prog.result
print(r.testsRun, len(r.failures), len(r.errors))
print(r.failures[0][1].splitlines()[-1])
