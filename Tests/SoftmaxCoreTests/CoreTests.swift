import SoftmaxCore
import Testing

@Suite struct CoreTests {
    @Test func validationNamesTheRowAndTheRange() {
        #expect(throws: SoftmaxError.labelOutOfRange(source: "y.txt", location: "line 4", label: 10, classes: 10, ignoreIndex: -1)) {
            try InputValidation.requireLabelsInRange([0, 9, 10], classes: 10, ignoreIndex: -1, source: "y.txt") { "line \($0 + 2)" }
        }
        #expect(SoftmaxError.labelOutOfRange(source: "y.txt", location: "line 4", label: 10, classes: 10, ignoreIndex: -1).description
                == "y.txt line 4: label 10 is outside 0..<10 (and is not the ignore index -1)")
        #expect(throws: Never.self) {
            try InputValidation.requireLabelsInRange([0, -1, 9], classes: 10, ignoreIndex: -1)
        }
    }

    @Test func optionsAreValidatedAgainstTheClassCount() {
        #expect(throws: SoftmaxError.self) { try CrossEntropyOptions(classWeights: [1, 2]).validate(classes: 3) }
        #expect(throws: SoftmaxError.self) { try CrossEntropyOptions(classWeights: [1, .nan, 1]).validate(classes: 3) }
        #expect(throws: SoftmaxError.self) { try CrossEntropyOptions(labelSmoothing: 1).validate(classes: 3) }
        #expect(throws: Never.self) { try CrossEntropyOptions(classWeights: [0, 1, 2], labelSmoothing: 0.99).validate(classes: 3) }
    }

    @Test func firstNonFiniteIsFoundInRowMajorOrder() {
        var m = Matrix(rows: 3, cols: 4)
        m[2, 1] = .infinity
        m[1, 3] = .nan
        let bad = InputValidation.firstNonFinite(m)
        #expect(bad?.row == 1 && bad?.column == 3 && bad!.value.isNaN)
    }

    @Test func seededGeneratorReplays() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let sa = (0..<5).map { _ in a.next() }
        #expect(sa == (0..<5).map { _ in b.next() })
        #expect(sa != (0..<5).map { _ in c.next() })
    }
}
