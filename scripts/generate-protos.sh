#!/usr/bin/env bash
# Regenerates Sources/QuickPayProtocol/Generated/*.pb.swift from Protos/*.proto.
# Needs Debian's protoc (apt-get install protobuf-compiler) and protoc-gen-swift, which this
# script builds from the swift-protobuf package QuickPay already depends on.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler" >&2; exit 1; }
swift build -c release --product protoc-gen-swift --scratch-path .build-protoc >/dev/null
plugin="$(swift build -c release --product protoc-gen-swift --scratch-path .build-protoc --show-bin-path)/protoc-gen-swift"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_out=Sources/QuickPayProtocol/Generated \
  --swift_opt=Visibility=Public \
  -I Protos Protos/*.proto
echo "generated: $(ls Sources/QuickPayProtocol/Generated/*.pb.swift)"
