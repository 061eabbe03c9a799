#pragma once
// PKD's layer maps: which teacher layer's [CLS] vector each intermediate student layer
// (1..k-1) learns from. The student's last layer is distilled through the logits (KD), not PT.
//   skip: every (L/k)-th teacher layer. 12->6: 2,4,6,8,10; 12->3: 4,8. For L not a multiple
//         of k, layer round(j*L/k) for student layer j (12->5: 2,5,7,10).
//   last: the k-1 teacher layers below the last. 12->6: 7,8,9,10,11; 12->3: 10,11.
//   an explicit list "2,4,6,8,10": k-1 teacher layers in 1..L.
#include <cstdint>
#include <string>
#include <vector>

namespace pkd::distill {

// Teacher layers (1-based, = rows of the feature shards' cls_hidden) for student layers 1..k-1.
// Throws UsageError saying why when the map is impossible for this teacher and student.
std::vector<std::int64_t> teacher_layers(const std::string& map, std::int64_t teacher_depth,
                                         std::int64_t student_depth);

}  // namespace pkd::distill
