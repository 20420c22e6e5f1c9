import Foundation

/// The control endpoint's messages: one JSON object per frame (a REQ client's request and its answer).
/// Request: `{"action": "health" | "state" | ..., ...}`. Answer: `{"ok": true, ...}` or
/// `{"ok": false, "code": "ERROR_NAME", "message": "..."}`.
public typealias JSONObject = [String: Any]

public enum ControlJSON {
    public static func decode(_ bytes: [UInt8]) -> JSONObject? {
        guard bytes.count <= 1 << 20 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? JSONObject
    }

    public static func encode(_ object: JSONObject) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{\"ok\":false}".utf8)
        return Array(data)
    }

    public static func failure(_ code: String, _ message: String) -> JSONObject {
        ["ok": false, "code": code, "message": message]
    }
}
