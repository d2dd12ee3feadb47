# Short alias of the paper's setting (see the file it inherits).
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
