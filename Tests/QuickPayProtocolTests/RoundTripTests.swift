import Foundation
import QuickPayCore
import Testing
@testable import QuickPayProtocol

struct RoundTripTests {
    let codec = WireCodec()

    @Test func everyMessageRoundTrips() throws {
        var fixtures = MessageFixtures()
        let bodies = try fixtures.allBodies()
        // One example of each body type of the schema's Envelope oneof.
        #expect(Set(bodies.map(\.typeName)).count == FrameSummary.typeNames.count)
        var generator = SeededGenerator(seed: 1)
        for body in bodies {
            let envelope = Envelope(requestID: .random(using: &generator), body: body)
            let frame = codec.encode(envelope)
            let decoded = try codec.decode(frame)
            #expect(decoded == envelope, "\(body.typeName) did not round-trip")
            #expect(codec.encode(decoded) == frame, "\(body.typeName) re-encodes differently")
            // The bytes kept for request digests are exactly what encoding the envelope gives.
            #expect(decoded.canonicalBytes == frame, "\(body.typeName) keeps other canonical bytes")
        }
    }

    @Test func theSchemaHasNoBodyTypeWithoutAFixture() throws {
        var fixtures = MessageFixtures()
        let covered = Set(try fixtures.allBodies().map { body -> Int in
            var wire = Quickpay_V1_Envelope()
            wire.body = body.wire
            // The first byte(s) of the serialised body field are its tag: field number << 3 | 2.
            let bytes: [UInt8] = try wire.serializedBytes()
            var tag = 0
            var shift = 0
            for byte in bytes {
                tag |= Int(byte & 0x7f) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            return tag >> 3
        })
        // The schema's own field numbers, read from the generated descriptor: a body type added
        // to the schema without a fixture here fails this test.
        let proto = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Protos/quickpay.proto"), encoding: .utf8)
        let oneof = try #require(proto.components(separatedBy: "oneof body {").last?.components(separatedBy: "}").first)
        let schemaFields = Set(oneof.split(separator: "\n").compactMap { line in
            line.split(separator: "=").last.flatMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: " ;"))) }
        })
        #expect(schemaFields.count >= 46)
        #expect(covered == schemaFields)
        #expect(Set(FrameSummary.typeNames.keys) == schemaFields, "FrameSummary names every body type")
    }

    @Test func unloadCarriesTheUnloadIDItsSignatureBinds() throws {
        var fixtures = MessageFixtures()
        var generator = SeededGenerator(seed: 3)
        let owner = SigningPrivateKey.random(using: &generator)
        let requestID = RequestID.random(using: &generator)
        let authorization = UnloadAuthorization.sign(unloadID: requestID, voucherID: fixtures.voucher.id, destination: .quickPayBalance, ownerKey: owner)
        let envelope = Envelope(requestID: .random(using: &generator), body: .unload(UnloadRequest(session: .random(using: &generator), authorization: authorization)))
        let decoded = try codec.decode(codec.encode(envelope))
        guard case .unload(let request) = decoded.body else {
            Issue.record("decoded \(decoded.body.typeName)")
            return
        }
        #expect(request.authorization.unloadID == requestID)
        _ = fixtures.coin(1)
    }
}

struct PaymentSizeTests {
    let codec = WireCodec()

    func singleCoinPayment(index: Int) throws -> [UInt8] {
        var generator = SeededGenerator(seed: 9)
        let coin = Coin(voucherID: .random(using: &generator), index: index, value: .random(using: &generator))
        return codec.encode(Envelope(requestID: .random(using: &generator), body: .payment(try Payment(coins: [coin]))))
    }

    /// Envelope: version 2 + request id 18 + body tag and length 2; Payment: coin tag and length
    /// 2; Coin: voucher id 18 + index 2 or 3 + value 34.
    @Test func singleCoinPaymentIsAtMost96Bytes() throws {
        #expect(try singleCoinPayment(index: 1).count == 78)
        #expect(try singleCoinPayment(index: 127).count == 78)
        #expect(try singleCoinPayment(index: 128).count == 79)
        #expect(try singleCoinPayment(index: 1000).count == 79)
    }
}
