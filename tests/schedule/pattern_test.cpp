// Hand-derived vectors for the pattern language (each worked through Megatron's algorithm by hand;
// megatron_vectors_test.cpp checks thousands more against Megatron's own code).
#include "strata/schedule/pattern.h"

#include <gtest/gtest.h>

#include "strata/schedule/allocation.h"

namespace strata::schedule {
namespace {

std::string error_of(auto fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Allocation, PythonRoundHalfToEven) {
  // 10 * 0.25 = 2.5 -> 2 attention layers (std::round would give 3).
  EXPECT_EQ(allocate_layers(10, 0.25, 0.0), "MMM*MM*MMM");
  // 6 * 0.25 = 1.5 -> 2; 14 * 0.25 = 3.5 -> 4.
  const std::string six = allocate_layers(6, 0.25, 0.0);
  EXPECT_EQ(std::count(six.begin(), six.end(), '*'), 2);
  const std::string fourteen = allocate_layers(14, 0.25, 0.0);
  EXPECT_EQ(std::count(fourteen.begin(), fourteen.end(), '*'), 4);
  // 1 * 0.5 = 0.5 -> 0 for both.
  EXPECT_EQ(allocate_layers(1, 0.5, 0.5), "M");
  // 10 * 0.15 is exactly 1.5 in double -> 2 MLP layers.
  const std::string mlp = allocate_layers(10, 0.0, 0.15);
  EXPECT_EQ(std::count(mlp.begin(), mlp.end(), '-'), 2);
}

TEST(Allocation, DoubleAccumulationNotExactArithmetic) {
  // L = 0.3; after five steps x is 0.49999999999999994 < 0.5 in double, so layer 5 is attention.
  EXPECT_EQ(allocate_layers(12, 0.75, 0.0), "*M****M***M*");
}

TEST(Allocation, SpacingAndOverAllocation) {
  EXPECT_EQ(allocate_layers(10, 0.2, 0.0), "MMM*MM*MMM");
  EXPECT_EQ(allocate_layers(4, 0.5, 0.0), "M**M");
  EXPECT_EQ(allocate_layers(8, 0.0, 0.125), "MMMMMMM-");
  EXPECT_EQ(allocate_layers(3, 0.5, 0.5), "*-*");
  EXPECT_EQ(allocate_layers(5, 0.3, 0.7), "-*-*-");
  EXPECT_EQ(allocate_layers(4, 0.0, 0.0), "MMMM");
}

TEST(Allocation, OverrideChecksInMegatronOrder) {
  EXPECT_EQ(allocate_layers(10, 0.2, 0.0, "M*MMMMMM*M"), "M*MMMMMM*M");  // permuted, same counts
  EXPECT_EQ(allocate_layers(10, 0.2, 0.0, "MMM*MM*MMM"), "MMM*MM*MMM");  // identical
  // Length is checked before symbols, symbols before counts.
  EXPECT_EQ(error_of([] { allocate_layers(10, 0.2, 0.0, "MXM"); }),
            "The hybrid override pattern is the wrong length: got 3, expected 10");
  EXPECT_EQ(error_of([] { allocate_layers(10, 0.2, 0.0, "MMM*MM*MMX"); }),
            "In hybrid override pattern, 'X' is not one of {'M', '*', '-', 'E'}");
  EXPECT_EQ(error_of([] { allocate_layers(10, 0.2, 0.0, "MMM*MM*MM-"); }),
            "The number of each type of layer in the override pattern must match the number in the "
            "overridden pattern.");
  // With both ratios zero any valid pattern of the right length is accepted, 'E' included.
  EXPECT_EQ(allocate_layers(4, 0.0, 0.0, "ME-*"), "ME-*");
  // ... and with a positive ratio an 'E' never matches the auto allocation.
  EXPECT_NE(error_of([] { allocate_layers(10, 0.2, 0.0, "MMM*MM*MME"); }), "<no error>");
  // Empty override is not "no override": it fails the length check.
  EXPECT_EQ(error_of([] { allocate_layers(4, 0.0, 0.0, ""); }),
            "The hybrid override pattern is the wrong length: got 0, expected 4");
  // Code points, not bytes, as Python counts them.
  EXPECT_EQ(error_of([] { allocate_layers(3, 0.0, 0.0, "M\xc3\xa9M"); }),
            "In hybrid override pattern, '\xc3\xa9' is not one of {'M', '*', '-', 'E'}");
}

TEST(Allocation, AssertionsRejectBadArguments) {
  EXPECT_NE(error_of([] { allocate_layers(0, 0.0, 0.0); }), "<no error>");
  EXPECT_NE(error_of([] { allocate_layers(4, -0.1, 0.0); }), "<no error>");
  EXPECT_NE(error_of([] { allocate_layers(4, 0.6, 0.5); }), "<no error>");
  EXPECT_NE(error_of([] { allocate_layers(4, std::nan(""), 0.0); }), "<no error>");
  EXPECT_EQ(allocate_layers(4, 0.3, 0.7), "--*-");  // 0.3 + 0.7 == 1.0 exactly in double
}

TEST(Pattern, ParseForms) {
  EXPECT_EQ(parse_pattern(std::nullopt), (ParsedPattern{std::nullopt, std::nullopt, 0}));
  EXPECT_EQ(parse_pattern(""), (ParsedPattern{"", std::nullopt, 0}));
  EXPECT_EQ(parse_pattern("/"), (ParsedPattern{std::nullopt, std::nullopt, 0}));
  EXPECT_EQ(parse_pattern("MM/"), (ParsedPattern{"MM", std::nullopt, 0}));
  EXPECT_EQ(parse_pattern("/MM"), (ParsedPattern{std::nullopt, "MM", 1}));
  EXPECT_EQ(parse_pattern("M*M*/MM/MM"), (ParsedPattern{"M*M*", "MM", 2}));
  EXPECT_EQ(parse_pattern("MMMM/*M/*M/*M"), (ParsedPattern{"MMMM", "*M", 3}));
  EXPECT_EQ(error_of([] { parse_pattern("M*M*/MM/"); }),
            "All MTP patterns must be identical. Pattern 1 is 'MM', but pattern 2 is ''. Full pattern: 'M*M*/MM/'");
  // The identity check runs before MTP symbols are validated.
  EXPECT_EQ(error_of([] { parse_pattern("MM/XX/YY"); }),
            "All MTP patterns must be identical. Pattern 1 is 'XX', but pattern 2 is 'YY'. Full pattern: 'MM/XX/YY'");
  EXPECT_EQ(error_of([] { parse_pattern("MM/MX"); }),
            "In MTP pattern, 'X' is not a valid layer symbol. Valid symbols are: {'M', '*', '-', 'E'}");
  EXPECT_EQ(error_of([] { parse_pattern("M* "); }),
            "In main pattern, ' ' is not a valid layer symbol. Valid symbols are: {'M', '*', '-', 'E'}");
  // Control characters are escaped so an error stays on one line.
  EXPECT_EQ(error_of([] { parse_pattern("M\nM"); }),
            "In main pattern, '\\n' is not a valid layer symbol. Valid symbols are: {'M', '*', '-', 'E'}");
}

TEST(Pattern, MapsAndCounts) {
  const LayerMaps maps = layer_maps("MM*-ME");
  EXPECT_EQ(maps.mamba, (std::map<int, int>{{0, 0}, {1, 1}, {4, 2}}));
  EXPECT_EQ(maps.attention, (std::map<int, int>{{2, 0}}));
  EXPECT_EQ(maps.mlp, (std::map<int, int>{{3, 0}}));
  EXPECT_EQ(maps.moe, (std::map<int, int>{{5, 0}}));
  EXPECT_THROW(layer_maps("M/M"), Error);
  EXPECT_EQ(layer_counts("M-M-M-M*-/MM/MM"), (LayerCounts{.mamba = 8, .attention = 1, .mlp = 4, .moe = 0}));
  EXPECT_EQ(layer_counts(std::nullopt), LayerCounts{});
  EXPECT_EQ(layer_counts("/"), LayerCounts{});
  EXPECT_EQ(layer_counts("E/E/E"), (LayerCounts{.moe = 3}));
}

}  // namespace
}  // namespace strata::schedule
