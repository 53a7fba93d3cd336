#!/usr/bin/env python3
"""Regenerates the binary seeds in tests/fuzz/corpus/ from the readable
sources here (run after editing a seed; the outputs are committed):

  rating_request_fuzzer/*.textproto  makegood.v1.SubmitRatingRequest -> .pb
  write_requests_fuzzer/*.textproto  makegood.v1.SimulationCase      -> .pb
  script_reply_fuzzer/*.reply        reply text (tests/fuzz/reply_text.h);
      a line "$@<message>:<file>" becomes a bulk string holding <file>
      (a textproto of <message>) encoded, C-escaped -> .txt

Needs protoc (protobuf-compiler). Usage: tests/fuzz/seeds/encode.py
"""
import pathlib
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CORPUS = HERE.parent / "corpus"
PROTOS = ["makegood/v1/rating_service.proto", "makegood/v1/policy_service.proto",
          "makegood/v1/member.proto", "makegood/v1/order.proto"]


def encode(message, textproto):
    return subprocess.run(
        ["protoc", f"--encode={message}", f"-I{ROOT / 'proto'}",
         "-I/usr/include", *PROTOS],
        input=textproto, capture_output=True, check=True).stdout



def main():
    for target, message in [("rating_request_fuzzer", "makegood.v1.SubmitRatingRequest"),
                            ("write_requests_fuzzer", "makegood.v1.SimulationCase")]:
        (CORPUS / target).mkdir(parents=True, exist_ok=True)
        for source in sorted((HERE / target).glob("*.textproto")):
            (CORPUS / target / (source.stem + ".pb")).write_bytes(
                encode(message, source.read_bytes()))
    target = "script_reply_fuzzer"
    (CORPUS / target).mkdir(parents=True, exist_ok=True)
    for source in sorted((HERE / target).glob("*.reply")):
        lines = []
        for line in source.read_text().splitlines():
            if line.startswith("$@"):
                message, file = line[2:].split(":", 1)
                data = encode(message, (HERE / target / file).read_bytes())
                line = "$" + "".join(f"\\{b:03o}" for b in data)
            lines.append(line)
        (CORPUS / target / (source.stem + ".txt")).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
