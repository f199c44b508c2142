#include "report/layer_sensitivity.h"

#include <gtest/gtest.h>

#include "quant/scheme.h"

namespace qsweep {
namespace {

std::optional<SensitivityCell> Of(const std::string& yaml) {
  auto spec = SchemeFromYaml(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return SensitivityCellOf(SchemeJson(*spec));
}

TEST(LayerSensitivity, OneLayerOfADenseModelIsACell) {
  auto c = Of("scheme: bf16\noverrides: [{layers: 3, projections: [down], format: w2a16-g64}]\n");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->layer, 3);
  EXPECT_EQ(c->projection, "down");
  EXPECT_EQ(c->format, "w2a16-g64");
  auto all = Of("scheme: fp32\noverrides: [{layers: 0, format: nf4-g64}]\n");
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->layer, 0);
  EXPECT_EQ(all->projection, "all");
}

TEST(LayerSensitivity, EverythingElseIsNot) {
  for (const char* yaml : {
           "scheme: w4a16-g128\n",                                                              // plain scheme
           "scheme: w4a16-g128\noverrides: [{layers: 3, projections: [down], format: w8a16}]\n",  // quantized base
           "scheme: bf16\noverrides: [{layers: 2-3, projections: [q], format: w4a16-g128}]\n",    // two layers
           "scheme: bf16\noverrides: [{layers: 3-, projections: [q], format: w4a16-g128}]\n",     // open range
           "scheme: bf16\noverrides: [{layers: 3, projections: [q, k], format: w4a16-g128}]\n",   // two projections
           "scheme: bf16\noverrides: [{layers: 3, format: keep}]\n",                              // nothing quantized
           "scheme: bf16\noverrides: [{layers: 1, format: w4a16-g128}, {layers: 2, format: w4a16-g128}]\n",
       })
    EXPECT_FALSE(Of(yaml).has_value()) << yaml;
  EXPECT_FALSE(SensitivityCellOf("").has_value());
  EXPECT_FALSE(SensitivityCellOf("{not json").has_value());
  EXPECT_FALSE(SensitivityCellOf("[1, 2]").has_value());
}

}  // namespace
}  // namespace qsweep
