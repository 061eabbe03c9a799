#include "distill/layer_map.h"

#include <cmath>

#include "core/error.h"
#include "core/strings.h"

namespace pkd::distill {

std::vector<std::int64_t> teacher_layers(const std::string& map, std::int64_t L, std::int64_t k) {
  if (k < 1) usage_fail("the student needs at least 1 layer, got ", k);
  if (k > L)
    usage_fail("a ", k, "-layer student cannot learn from a ", L,
               "-layer teacher's layers: PKD compresses (student layers <= teacher layers)");
  std::vector<std::int64_t> layers;
  if (map == "skip") {
    for (std::int64_t j = 1; j < k; ++j)
      layers.push_back(static_cast<std::int64_t>(
          std::lround(static_cast<double>(j) * static_cast<double>(L) / static_cast<double>(k))));
    return layers;
  }
  if (map == "last") {
    for (std::int64_t j = 1; j < k; ++j) layers.push_back(L - k + j);
    return layers;
  }
  for (const auto& part : split(map, ',')) {
    std::int64_t layer = 0;
    try {
      std::size_t used = 0;
      layer = std::stoll(std::string(trim(part)), &used);
      if (used != trim(part).size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      usage_fail("layer map '", map,
                 "': expected \"skip\", \"last\" or a comma-separated list of teacher layers, "
                 "found '",
                 part, "'");
    }
    if (layer < 1 || layer > L)
      usage_fail("layer map '", map, "': teacher layer ", layer,
                 " does not exist (the teacher has ", "layers 1..", L, ")");
    layers.push_back(layer);
  }
  if (static_cast<std::int64_t>(layers.size()) != k - 1)
    usage_fail("layer map '", map, "' names ", layers.size(), " teacher layers; a ", k,
               "-layer student needs ", k - 1, " (one per student layer 1..", k - 1, ")");
  return layers;
}

}  // namespace pkd::distill
