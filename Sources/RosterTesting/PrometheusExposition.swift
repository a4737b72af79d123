/// The Prometheus text exposition format (version 0.0.4), parsed for tests: HELP and TYPE lines
/// and samples with their labels. Strict enough to fail on a malformed line.
public struct PrometheusExposition: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Help text by metric family name.
    public private(set) var help: [String: String] = [:]
    /// Type by metric family name (`counter`, `gauge`, `histogram`).
    public private(set) var types: [String: String] = [:]
    public private(set) var samples: [Sample] = []

    public init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let space = rest.firstIndex(of: " ") ?? rest.endIndex
                help[String(rest[..<space])] = space < rest.endIndex ? String(rest[rest.index(after: space)...]) : ""
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2 else { throw ParseError(description: "bad TYPE line: \(line)") }
                types[String(parts[0])] = String(parts[1])
            } else if line.hasPrefix("#") {
                continue
            } else {
                samples.append(try Self.sample(line))
            }
        }
    }

    private static func sample(_ line: Substring) throws -> Sample {
        var name = ""
        var labels: [String: String] = [:]
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " {
            name.append(line[index])
            index = line.index(after: index)
        }
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                var key = ""
                while index < line.endIndex, line[index] != "=" {
                    key.append(line[index])
                    index = line.index(after: index)
                }
                index = line.index(after: index)
                guard index < line.endIndex, line[index] == "\"" else { throw ParseError(description: "bad label in: \(line)") }
                index = line.index(after: index)
                var value = ""
                while index < line.endIndex, line[index] != "\"" {
                    if line[index] == "\\" { index = line.index(after: index) }
                    value.append(line[index])
                    index = line.index(after: index)
                }
                guard index < line.endIndex else { throw ParseError(description: "unterminated label in: \(line)") }
                index = line.index(after: index)
                labels[key] = value
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { throw ParseError(description: "unterminated labels in: \(line)") }
            index = line.index(after: index)
        }
        let rest = line[index...].split(separator: " ")
        guard let first = rest.first, let value = Double(first) ?? (first == "+Inf" ? .infinity : nil) else {
            throw ParseError(description: "bad value in: \(line)")
        }
        return Sample(name: name, labels: labels, value: value)
    }

    /// The sum of the samples called `name` whose labels include `labels` (0 if none).
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }
            .reduce(0) { $0 + $1.value }
    }

    /// The label values of `label` among the samples called `name`.
    public func labelValues(_ name: String, _ label: String) -> Set<String> {
        Set(samples.filter { $0.name == name }.compactMap { $0.labels[label] })
    }
}
