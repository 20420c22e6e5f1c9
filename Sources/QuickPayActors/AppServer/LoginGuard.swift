import QuickPayCore

/// The limits on logins. The wrong passwords per (client key, username) and their lockouts are
/// kept durable (`LoginLockRecord`, loaded the first time a pair is seen): a restart of the app
/// server forgives nobody. The rate buckets, the per-username count of unproven keys and the
/// set of each user's own keys live in memory and start over with the process.
///
/// A login costs a password hash, so anyone who can send logins can spend the server's CPU,
/// and anyone who can fail them could lock their owner out. Here:
/// - **Rate**: each client key (the CURVE key the connection proved) has a token bucket; each
///   username has one for keys that have never logged in as it. Past either, RATE_LIMITED,
///   before any hash is computed. A key that has logged in as the user (the user's own
///   device) skips the username's bucket, so a flood aimed at a victim does not keep the
///   victim out.
/// - **Lockout**: wrong passwords count per (client key, username): at the limit that key is
///   locked out of that username, with the time doubling at each lockout. Across all keys that
///   never logged in as the user, a higher limit locks those keys out of the username too
///   (a distributed guesser). The user's own device is never locked out by others' guesses.
/// - **No oracle**: every count is kept per username whether or not the user exists, and
///   the answers (RATE_LIMITED, LOCKED_OUT, AUTHENTICATION_FAILED) are the same for both.
public struct LoginLimits: Sendable, Equatable {
    /// Logins a client key may start at once, then per second.
    public var keyBurst = 20
    public var keyPerSecond = 2.0
    /// Logins per username from keys that never logged in as it: at once, then per second.
    public var userBurst = 20
    public var userPerSecond = 0.5
    /// Wrong passwords from one key for one username before that key is locked out of it.
    public var failuresPerKey = 10
    /// Wrong passwords from all unproven keys for one username before they are all locked out.
    public var failuresPerUser = 100
    /// The first lockout; each further one of the same (key, username) doubles, up to a day.
    public var lockoutSeconds: Int64 = 900
    public var maximumLockoutSeconds: Int64 = 86_400
    /// Password hashes waiting for or running on the worker pool; beyond, OVERLOADED.
    public var maximumHashesInFlight = 64
    /// Entries kept per table (keys, usernames); the oldest idle go first.
    public var maximumEntries = 100_000
    public init() {}
}

struct LoginGuard {
    let limits: LoginLimits

    /// A client key; nil (a plaintext deployment) is one shared key.
    typealias Key = Bytes32?

    struct Bucket {
        var tokens: Double
        var at: Timestamp
    }

    struct Lock {
        var failures = 0
        var lockouts = 0
        var until: Timestamp?
        var lastFailure = Timestamp(secondsSinceEpoch: 0)
    }

    struct Pair: Hashable {
        let key: Key
        let username: String
    }

    var keyBuckets: [Key: Bucket] = [:]
    var userBuckets: [String: Bucket] = [:]
    var pairLocks: [Pair: Lock] = [:]
    var userLocks: [String: Lock] = [:]
    /// Which pairs have been read from the store (or were new there).
    var loaded: Set<Pair> = []
    /// Keys that have logged in as each username (its devices).
    var proven: [String: Set<Key>] = [:]
    var hashesInFlight = 0

    init(limits: LoginLimits) { self.limits = limits }

    /// Checks a new login from `key` for `username` and takes its tokens; throws the typed
    /// refusal. Nothing is counted for a refused attempt.
    mutating func admit(_ key: Key, _ username: String, now: Timestamp) throws(QuickPayError) {
        let own = proven[username]?.contains(key) ?? false
        if let until = pairLocks[Pair(key: key, username: username)]?.until, now < until { throw Self.locked(until) }
        if !own, let until = userLocks[username]?.until, now < until { throw Self.locked(until) }
        guard hashesInFlight < limits.maximumHashesInFlight else {
            throw QuickPayError(.overloaded, "\(hashesInFlight) logins are being checked; try again shortly")
        }
        // A plaintext deployment proves no key: there is nothing to limit per key.
        var keyBucket = refill(keyBuckets[key], burst: limits.keyBurst, rate: limits.keyPerSecond, now: now)
        guard key == nil || keyBucket.tokens >= 1 else { throw QuickPayError(.rateLimited, "too many logins from this client; slow down") }
        var userBucket: Bucket?
        if !own {
            userBucket = refill(userBuckets[username], burst: limits.userBurst, rate: limits.userPerSecond, now: now)
            guard userBucket!.tokens >= 1 else { throw QuickPayError(.rateLimited, "too many logins for this username; slow down") }
            userBucket!.tokens -= 1
        }
        trim()
        if key != nil {
            keyBucket.tokens -= 1
            keyBuckets[key] = keyBucket
        }
        if let userBucket { userBuckets[username] = userBucket }
        hashesInFlight += 1
    }

    /// A hash came back (or could not run).
    mutating func finished() { hashesInFlight = max(0, hashesInFlight - 1) }

    /// Whether the pair's durable record still needs reading from the store.
    func needsLoading(_ key: Key, _ username: String) -> Bool { !loaded.contains(Pair(key: key, username: username)) }

    /// The pair's durable record, as the store had it (nil: none).
    mutating func load(_ key: Key, _ username: String, _ record: LoginLockRecord?) {
        let pair = Pair(key: key, username: username)
        loaded.insert(pair)
        if let record { pairLocks[pair] = Lock(failures: record.failures, lockouts: record.lockouts, until: record.until, lastFailure: record.lastFailure) }
    }

    static func keyHash(_ key: Key) -> Bytes32 { key.map { Bytes32.sha256(of: $0.bytes) } ?? .zero }

    func record(_ pair: Pair) -> LoginLockRecord {
        let lock = pairLocks[pair] ?? Lock()
        return LoginLockRecord(
            keyHash: Self.keyHash(pair.key), username: pair.username, failures: lock.failures, lockouts: lock.lockouts, until: lock.until, lastFailure: lock.lastFailure)
    }

    /// A wrong password (or an unknown user): counts toward the lockouts. Returns the pair's
    /// record to make durable.
    mutating func failed(_ key: Key, _ username: String, now: Timestamp) -> LoginLockRecord {
        let pair = Pair(key: key, username: username)
        pairLocks[pair] = count(pairLocks[pair] ?? Lock(), limit: limits.failuresPerKey, now: now)
        if !(proven[username]?.contains(key) ?? false) {
            userLocks[username] = count(userLocks[username] ?? Lock(), limit: limits.failuresPerUser, now: now)
        }
        return record(pair)
    }

    /// The right password: the key is the user's device from now on, and its count starts over.
    /// Returns the record to make durable when there was one (its removal).
    mutating func succeeded(_ key: Key, _ username: String) -> LoginLockRecord? {
        let pair = Pair(key: key, username: username)
        proven[username, default: []].insert(key)
        guard pairLocks.removeValue(forKey: pair) != nil else { return nil }
        return LoginLockRecord(keyHash: Self.keyHash(key), username: username, failures: 0, lockouts: 0, until: nil, lastFailure: .init(secondsSinceEpoch: 0))
    }

    func count(_ lock: Lock, limit: Int, now: Timestamp) -> Lock {
        var lock = lock
        lock.failures += 1
        lock.lastFailure = now
        if lock.failures >= limit {
            let seconds = min(limits.maximumLockoutSeconds, limits.lockoutSeconds << min(lock.lockouts, 20))
            lock.until = now.adding(seconds: seconds)
            lock.lockouts += 1
            lock.failures = 0
        }
        return lock
    }

    func refill(_ bucket: Bucket?, burst: Int, rate: Double, now: Timestamp) -> Bucket {
        guard var bucket else { return Bucket(tokens: Double(burst), at: now) }
        let elapsed = Double(max(0, now.secondsSinceEpoch - bucket.at.secondsSinceEpoch))
        bucket.tokens = min(Double(burst), bucket.tokens + elapsed * rate)
        bucket.at = now
        return bucket
    }

    static func locked(_ until: Timestamp) -> QuickPayError {
        QuickPayError(.lockedOut, "too many failed attempts; try again after \(until)")
    }

    /// Keeps the tables bounded: a full table drops its entries (buckets refill to full and
    /// idle locks expire anyway; active lockouts are kept).
    mutating func trim() {
        if keyBuckets.count >= limits.maximumEntries { keyBuckets.removeAll(keepingCapacity: true) }
        if userBuckets.count >= limits.maximumEntries { userBuckets.removeAll(keepingCapacity: true) }
        if pairLocks.count >= limits.maximumEntries || loaded.count >= limits.maximumEntries {
            // The durable records stay in the store: forgetting the cache only means reading again.
            pairLocks.removeAll(keepingCapacity: true)
            loaded.removeAll(keepingCapacity: true)
        }
        if userLocks.count >= limits.maximumEntries { userLocks = userLocks.filter { $0.value.until != nil } }
        if proven.count >= limits.maximumEntries { proven.removeAll(keepingCapacity: true) }
    }
}
