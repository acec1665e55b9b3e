// recd::model internal — the LibTorch side of PinSage, for training code and tests.
// Includes <torch/torch.h>: keep it out of headers that do not need it.
#pragma once

#include <torch/torch.h>

#include "model/pinsage.h"

namespace recd::model {

// One importance-pooling convolution: n = weighted mean of ReLU(Q h_nbr + q) with
// the neighbours' importance, z = ReLU(W [h_self ; n] + w), z / ||z||.
struct PinSageConvImpl : torch::nn::Module {
  PinSageConvImpl(int64_t in_dim, int64_t out_dim);
  // `self`: the output nodes' rows; `neighbour_index` [outputs, T] indexes `h_src`.
  torch::Tensor forward(const torch::Tensor& self, const torch::Tensor& h_src, const torch::Tensor& neighbour_index,
                        const torch::Tensor& neighbour_importance);
  torch::nn::Linear q{nullptr}, w{nullptr};
};
TORCH_MODULE(PinSageConv);

struct PinSageNetImpl : torch::nn::Module {
  explicit PinSageNetImpl(const PinSageConfig& c);
  // Input projection of blocks[0]'s node features, hidden_dim wide.
  torch::Tensor Inputs(const torch::Tensor& id_bucket, const torch::Tensor& attributes, const torch::Tensor& content);
  // Seeds' embeddings (L2-normalised) from input features and the blocks' index tensors.
  torch::Tensor forward(const torch::Tensor& id_bucket, const torch::Tensor& attributes, const torch::Tensor& content,
                        const std::vector<int64_t>& num_outputs, const std::vector<torch::Tensor>& neighbour_index,
                        const std::vector<torch::Tensor>& neighbour_importance);

  PinSageConfig config;
  torch::nn::Embedding id_embedding{nullptr};
  torch::nn::ModuleList attribute_embeddings;
  torch::nn::Linear content_projection{nullptr};
  torch::nn::Linear input{nullptr};
  torch::nn::ModuleList convs;
  torch::nn::Linear output{nullptr};
  // The final dense layer and L2 normalisation.
  torch::Tensor Output(const torch::Tensor& h);
};
TORCH_MODULE(PinSageNet);

class PinSage::Impl {
 public:
  Impl(const PinSageConfig& c, torch::Device d) : device(d), net(c) { net->to(device); }
  // Moves a computation graph and its features to tensors on the device.
  struct Batch {
    torch::Tensor id_bucket, attributes, content;
    std::vector<int64_t> num_outputs;
    std::vector<torch::Tensor> neighbour_index, neighbour_importance;
  };
  // `f`: the rows of graph.blocks[0].nodes.
  Batch ToTensors(const ComputationGraph& graph, const NodeFeatures& f) const;
  // Catalogue-wide input features on the device (training uploads them once and
  // gathers each batch's rows there).
  struct Catalogue {
    torch::Tensor id_bucket, attributes, content;
  };
  Catalogue Upload(const NodeFeatures& f) const;
  // A batch whose input rows are gathered on the device from `all`.
  Batch ToTensors(const ComputationGraph& graph, const Catalogue& all) const;
  // Layer-wise embeddings of every item (rows in dense id order), on the device;
  // the caller chooses grad or inference mode. A raised `cancel`, checked
  // between chunks, throws Cancelled.
  struct Cancelled : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
  };
  torch::Tensor EmbedAll(const std::vector<Neighbourhood>& hoods, const NodeFeatures& f, int64_t chunk,
                         const std::atomic<bool>* cancel = nullptr);
  torch::Tensor Forward(const Batch& b) {
    return net->forward(b.id_bucket, b.attributes, b.content, b.num_outputs, b.neighbour_index, b.neighbour_importance);
  }

  torch::Device device;
  PinSageNet net;

 private:
  Batch Structure(const ComputationGraph& graph) const;  // the blocks' index tensors
};

}  // namespace recd::model
